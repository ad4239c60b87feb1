#!/usr/bin/env python3
"""Print one line per filesystem entry under ROOT, sorted, for comparing two
unpacked trees: path, type, mode, owner, size, link target, content sha256,
security.capability xattr. Hardlinked files show the same content; mtimes are
left out (unpackers legitimately differ on directory mtimes)."""
import hashlib, os, stat, sys

def entry(root, rel):
    p = os.path.join(root, rel)
    st = os.lstat(p)
    m = st.st_mode
    kind = ("d" if stat.S_ISDIR(m) else "f" if stat.S_ISREG(m) else "l" if stat.S_ISLNK(m) else
            "c" if stat.S_ISCHR(m) else "b" if stat.S_ISBLK(m) else "p" if stat.S_ISFIFO(m) else
            "s" if stat.S_ISSOCK(m) else "?")
    fields = [rel or ".", kind, "%04o" % stat.S_IMODE(m), "%d:%d" % (st.st_uid, st.st_gid)]
    if kind == "f":
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        fields += [str(st.st_size), h.hexdigest()]
    elif kind == "l":
        fields.append("-> " + os.readlink(p))
    elif kind in "cb":
        fields.append("%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    if kind in "fd":
        try:
            fields.append("cap=" + os.getxattr(p, "security.capability", follow_symlinks=False).hex())
        except OSError:
            pass
    return " ".join(fields)

def main():
    root = sys.argv[1]
    skip = set(sys.argv[2:])
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel
        for n in dirnames + filenames:
            r = os.path.join(rel, n)
            if r in skip:
                continue
            out.append(entry(root, r))
    out.append(entry(root, ""))
    print("\n".join(sorted(out)))

main()
