"""Writes NAME-VERSION-py3-none-any.whl for the package directory NAME into
OUT, with fixed entry times and order: a wheel whose bytes depend only on the
sources (what `pip wheel` would build, without needing pip)."""
import base64, hashlib, os, sys, zipfile

name, version, out = sys.argv[1:4]
dist = f"{name}-{version}.dist-info"
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(name) for f in fs if f.endswith(".py"))
meta = {f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: mkwheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
record = []
with zipfile.ZipFile(f"{out}/{name}-{version}-py3-none-any.whl", "w", zipfile.ZIP_DEFLATED) as z:
    def add(arc, data):
        info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        z.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arc},sha256={digest},{len(data)}")
    for f in files:
        with open(f, "rb") as fh:
            add(f, fh.read())
    for arc, text in meta.items():
        add(arc, text.encode())
    z.writestr(zipfile.ZipInfo(f"{dist}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)),
               "\n".join(record + [f"{dist}/RECORD,,"]) + "\n")
