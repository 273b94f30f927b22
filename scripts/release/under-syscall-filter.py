#!/usr/bin/env python3
"""Runs a command under the unit's system call filter, the way systemd applies it, without systemd as PID 1.

    under-syscall-filter.py UNIT_FILE -- COMMAND [ARGS...]

Reads the unit's SystemCallFilter= lines (an allow list, then ~ lines removing from it) and
SystemCallErrorNumber=, expands the @groups with this machine's `systemd-analyze syscall-filter`, installs the
filter with libseccomp (Debian python3-seccomp) and execs the command. A call outside the list fails with the
unit's errno, as under systemd. --print lists the allowed calls instead (to compare with `strace -c`).
"""
import errno
import os
import re
import subprocess
import sys

import seccomp


def groups():
    """Every @group of this systemd, expanded to syscall names (nested groups resolved)."""
    text = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], check=True, capture_output=True, text=True).stdout
    raw, current = {}, None
    for line in text.splitlines():
        if not line.startswith(" "):
            # A group's name starts a section; anything else at the margin (the unlisted calls) ends it.
            current = line.split()[0] if line.startswith("@") else None
            if current:
                raw[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            raw[current].append(line.strip())

    def expand(name, seen=()):
        names = set()
        for item in raw.get(name, []):
            names |= expand(item, seen + (name,)) if item.startswith("@") and item not in seen else {item}
        return names

    return {name: expand(name) for name in raw}


def unit_filter(unit_path):
    allow, error = None, errno.EPERM
    known = groups()
    for line in open(unit_path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("SystemCallErrorNumber="):
            error = getattr(errno, line.split("=", 1)[1])
        if not line.startswith("SystemCallFilter="):
            continue
        value = line.split("=", 1)[1]
        negate = value.startswith("~")
        names = set()
        for item in value.lstrip("~").split():
            names |= known[item] if item.startswith("@") else {item}
        # As systemd reads them: the first line sets the allow list, later ones add to it or (~) take from it.
        if allow is None:
            if negate:
                sys.exit("under-syscall-filter: the unit's first SystemCallFilter= is a deny list; only allow lists are handled")
            allow = names
        elif negate:
            allow -= names
        else:
            allow |= names
    if allow is None:
        sys.exit("under-syscall-filter: the unit has no SystemCallFilter= allow list")
    return allow, error


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "--print":
        print("\n".join(sorted(unit_filter(sys.argv[1])[0])))
        return
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    allowed, error = unit_filter(sys.argv[1])
    command = sys.argv[3:]
    flt = seccomp.SyscallFilter(defaction=seccomp.ERRNO(error))
    for name in sorted(allowed):
        if re.fullmatch(r"[a-z0-9_]+", name):
            try:
                flt.add_rule(seccomp.ALLOW, name)
            except (RuntimeError, ValueError):
                pass  # a name this architecture does not have
    flt.load()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
