#!/usr/bin/env python3
"""lint.py FILE...: refuse lab code where a `check` is cut short by a shell operator.

`check NAME WHY [ a ] && [ b ]` runs only `[ a ]` inside check; the shell runs `[ b ]`
afterwards and throws its result away, so the check passes whatever b is. The same holds for
`||` and for a pipe. Conditions belong inside check: `check NAME WHY [ a ] --and [ b ]`.

The file is read as the shell reads it (quotes, $(...), ${...}, comments, line continuations,
here-documents), so operators inside quoted strings such as `eval '[ a ] && [ b ]'` are not
flagged. Prints FILE:LINE: lines and exits 1 when anything is found, 2 on a read error.
"""
import sys

OPS = ("&&", "||", ";;", "|&", "|", ";", "&", "(", ")", "\n")
CUT = {"&&", "||", "|", "|&"}
PREFIX = {"!", "then", "do", "else", "if", "elif", "while", "until", "{", "time"}


class Lexer:
    def __init__(self, text):
        self.s = text
        self.i = 0
        self.line = 1
        self.heredocs = []  # delimiters whose bodies start after the current line

    def peek(self, k=0):
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def adv(self, n=1):
        for _ in range(n):
            if self.peek() == "\n":
                self.line += 1
            self.i += 1

    def skip_heredoc_bodies(self):
        # called just after a newline outside quotes
        while self.heredocs:
            delim, strip = self.heredocs.pop(0)
            while self.i < len(self.s):
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                body = self.s[self.i:end]
                self.adv(end - self.i + 1)
                if (body.lstrip("\t") if strip else body) == delim:
                    break

    def single(self):
        self.adv()  # opening '
        while self.i < len(self.s) and self.peek() != "'":
            self.adv()
        self.adv()

    def double(self):
        self.adv()  # opening "
        while self.i < len(self.s) and self.peek() != '"':
            c = self.peek()
            if c == "\\":
                self.adv(2)
            elif c == "$" and self.peek(1) in "({":
                self.dollar()
            elif c == "`":
                self.backtick()
            else:
                self.adv()
        self.adv()

    def backtick(self):
        self.adv()
        while self.i < len(self.s) and self.peek() != "`":
            self.adv(2 if self.peek() == "\\" else 1)
        self.adv()

    def dollar(self):
        """$( ... ), $(( ... )) or ${ ... }: skip to the matching close, quotes aware."""
        opener = self.peek(1)
        close = ")" if opener == "(" else "}"
        self.adv(2)
        depth = 1
        while self.i < len(self.s) and depth:
            c = self.peek()
            if c == "\\":
                self.adv(2)
            elif c == "'" and close == ")":
                self.single()
            elif c == '"':
                self.double()
            elif c == "$" and self.peek(1) in "({":
                self.dollar()
            elif c == "`":
                self.backtick()
            elif c == "#" and close == ")" and self.s[self.i - 1] in " \t\n;(":
                while self.i < len(self.s) and self.peek() != "\n":
                    self.adv()
            elif c == "\n":
                self.adv()
                self.skip_heredoc_bodies()
            else:
                if c == opener:
                    depth += 1
                elif c == close:
                    depth -= 1
                self.adv()

    def word(self):
        """One word; returns its text with quotes kept (only the bare text matters here)."""
        start = self.i
        while self.i < len(self.s):
            c = self.peek()
            if c in " \t" or c == "\n" or (any(self.s.startswith(o, self.i) for o in OPS) and
                                           not (self.i == start and self.s.startswith("&>", self.i))):
                break
            if c == "\\":
                if self.peek(1) == "\n":
                    break
                self.adv(2)
            elif c == "'":
                self.single()
            elif c == '"':
                self.double()
            elif c == "$" and self.peek(1) in "({":
                self.dollar()
            elif c == "`":
                self.backtick()
            elif c in "<>" and self.peek(1) == "&":  # >&2, <&3: a redirection, not `&`
                self.adv(2)
            elif self.s.startswith("<<<", self.i):  # a here-string
                self.adv(3)
            elif self.s.startswith("<<", self.i):
                self.adv(2)
                strip = self.peek() == "-"
                if strip:
                    self.adv()
                while self.peek() in " \t":
                    self.adv()
                d0 = self.i
                while self.i < len(self.s) and self.peek() not in " \t\n;&|<>()":
                    self.adv(2 if self.peek() == "\\" else 1)
                delim = self.s[d0:self.i].replace("'", "").replace('"', "").replace("\\", "")
                self.heredocs.append((delim, strip))
                return self.s[start:self.i]
            else:
                self.adv()
        return self.s[start:self.i]

    def tokens(self):
        """Yields (kind, text, line): kind is 'w' (word) or 'op'."""
        while self.i < len(self.s):
            c = self.peek()
            if c in " \t":
                self.adv()
            elif c == "\\" and self.peek(1) == "\n":
                self.adv(2)
            elif c == "#":
                while self.i < len(self.s) and self.peek() != "\n":
                    self.adv()
            elif c == "\n":
                line = self.line
                self.adv()
                self.skip_heredoc_bodies()
                yield "op", "\n", line
            else:
                op = next((o for o in OPS if self.s.startswith(o, self.i)), None)
                if op == "&" and self.peek(1) == ">":  # &>file: a redirection
                    op = None
                if op:
                    line = self.line
                    self.adv(len(op))
                    yield "op", op, line
                else:
                    line = self.line
                    yield "w", self.word(), line


def lint(path, text):
    found = []
    cmd = []  # words of the current simple command: (text, line)
    for kind, text_, line in Lexer(text).tokens():
        if kind == "w":
            cmd.append((text_, line))
            continue
        words = [w for w in cmd]
        while words and words[0][0] in PREFIX:
            words.pop(0)
        if words and words[0][0] == "check" and text_ in CUT:
            found.append(f"{path}:{words[0][1]}: `check ... {text_} ...`: what follows {text_} runs "
                         f"outside check and its result is lost; put every condition inside check "
                         f"(check NAME WHY COND --and COND)")
        cmd = []
    return found


def main(argv):
    if len(argv) < 2:
        print("usage: lint.py FILE...", file=sys.stderr)
        return 2
    found = []
    for path in argv[1:]:
        try:
            with open(path, encoding="utf-8") as f:
                found += lint(path, f.read())
        except OSError as e:
            print(f"{path}: {e.strerror}", file=sys.stderr)
            return 2
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
