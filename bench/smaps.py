#!/usr/bin/env python3
"""Where a process's resident memory is, from /proc/PID/smaps (Linux).

    python3 bench/smaps.py PID          # one table
    from smaps import breakdown         # {category: (rss KiB, mappings)}, used by login.py

The categories, by what the kernel says about each mapping:
  binary text / binary data   the executable's own file mappings (code; relocated data)
  shared libraries            other file-backed mappings (libc, libm, ...)
  brk heap                    [heap]: glibc malloc's main arena (mimalloc does not use it)
  thread stacks               anonymous mappings just above a one-page PROT_NONE guard:
                              how glibc lays out a pthread's stack
  main stack                  [stack]
  anonymous, other            every other anonymous mapping: the allocator's arenas
                              (mimalloc's, or glibc's per-thread arenas) and any mmap
                              of a large buffer
"""
import os
import sys

CATEGORIES = ("binary text", "binary data", "shared libraries", "brk heap", "thread stacks", "main stack",
              "anonymous, other")


def _mappings(pid):
    """(start, end, perms, path, rss_kib) for every mapping of `pid`."""
    out, current = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                start, end = (int(x, 16) for x in head[0].split("-"))
                current = [start, end, head[1], head[5].strip() if len(head) > 5 else "", 0]
                out.append(current)
            elif head[0] == "Rss:" and current is not None:
                current[4] = int(head[1])
    return out


def breakdown(pid):
    """{category: [rss KiB, mappings]} plus "total" and "threads"."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        maps = _mappings(pid)
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    result = {c: [0, 0] for c in CATEGORIES}
    previous = None
    for start, end, perms, path, rss in maps:
        if path == exe or path.startswith(exe + " "):
            category = "binary text" if "x" in perms else "binary data"
        elif path.startswith("/"):
            category = "shared libraries"
        elif path == "[heap]":
            category = "brk heap"
        elif path == "[stack]":
            category = "main stack"
        elif (path == "" and previous is not None and previous[1] == start and previous[2].startswith("---")
              and previous[3] == "" and (previous[1] - previous[0]) // 1024 == page_kib and "w" in perms):
            category = "thread stacks"
        else:
            category = "anonymous, other"
        if not path.startswith("[v"):  # [vdso], [vvar], [vsyscall]: not the process's own
            result[category][0] += rss
            result[category][1] += 1
        previous = (start, end, perms, path)
    result["total"] = [sum(v[0] for v in result.values()), len(maps)]
    result["threads"] = threads
    return result


def table(columns):
    """Lines of a table: one row per category, one column per (label, breakdown)."""
    labels = [label for label, _ in columns]
    lines = [f"{'RSS by mapping (MiB)':<24}" + "".join(f"{label:>16}" for label in labels)]
    for category in CATEGORIES + ("total",):
        cells = "".join(f"{(b[category][0] / 1024 if b else float('nan')):>16.1f}" for _, b in columns)
        lines.append(f"{category:<24}{cells}")
    lines.append(f"{'threads':<24}" + "".join(f"{(b['threads'] if b else 0):>16}" for _, b in columns))
    return lines


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print("\n".join(table([(f"pid {sys.argv[1]}", breakdown(int(sys.argv[1])))])))
