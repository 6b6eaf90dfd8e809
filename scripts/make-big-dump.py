#!/usr/bin/env python3
"""Builds a larger dump from the real enwiki sample for benchmarks.

The sample's pages are repeated COPIES times; every copy gets new page and
revision ids and titles suffixed with the copy number, so ids and titles stay
unique. Writes, into OUT_DIR:
  big.xml                                   plain XML
  big.xml.bz2                               one bz2 stream (bzip2 -9)
  big-multistream.xml.bz2 + big-multistream-index.txt.bz2
                                            100 pages per stream, as Wikimedia does
Usage: make-big-dump.py SAMPLE.bz2 OUT_DIR [COPIES]
"""
import bz2
import os
import re
import subprocess
import sys
from xml.sax.saxutils import unescape


def main():
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    sample, out_dir = sys.argv[1], sys.argv[2]
    copies = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    os.makedirs(out_dir, exist_ok=True)
    xml = bz2.open(sample, "rt", encoding="utf-8").read()
    first = xml.index("  <page>")
    last = xml.rindex("</page>") + len("</page>\n")
    header, body, footer = xml[:first], xml[first:last], xml[last:]
    pages = re.findall(r"  <page>.*?</page>\n", body, flags=re.S)

    def copy_page(page, k):
        if k == 0:
            return page
        page = re.sub(r"<title>(.*?)</title>", lambda m: f"<title>{m.group(1)} {k}</title>", page, count=1)
        page = re.sub(r"(<page>\s*<title>.*?</title>\s*<ns>\d+</ns>\s*<id>)(\d+)(</id>)",
                      lambda m: f"{m.group(1)}{int(m.group(2)) + k * 10_000_000}{m.group(3)}", page, count=1, flags=re.S)
        page = re.sub(r"(<revision>\s*<id>)(\d+)(</id>)",
                      lambda m: f"{m.group(1)}{int(m.group(2)) + k * 1_000_000_000}{m.group(3)}", page, count=1, flags=re.S)
        return page

    all_pages = [copy_page(p, k) for k in range(copies) for p in pages]
    plain = os.path.join(out_dir, "big.xml")
    with open(plain, "w", encoding="utf-8") as f:
        f.write(header)
        f.writelines(all_pages)
        f.write(footer)
    subprocess.run(["bzip2", "-k", "-f", "-9", plain], check=True)

    multi = os.path.join(out_dir, "big-multistream.xml.bz2")
    index_lines = []
    with open(multi, "wb") as f:
        f.write(bz2.compress(header.encode("utf-8"), 9))
        for i in range(0, len(all_pages), 100):
            offset = f.tell()
            chunk = all_pages[i:i + 100]
            for page in chunk:
                pid = re.search(r"<id>(\d+)</id>", page).group(1)
                title = unescape(re.search(r"<title>(.*?)</title>", page).group(1), {"&quot;": '"', "&apos;": "'"})
                index_lines.append(f"{offset}:{pid}:{title}\n")
            f.write(bz2.compress("".join(chunk).encode("utf-8"), 9))
        f.write(bz2.compress(footer.encode("utf-8"), 9))
    with bz2.open(os.path.join(out_dir, "big-multistream-index.txt.bz2"), "wt", encoding="utf-8") as f:
        f.writelines(index_lines)
    print(f"{len(all_pages)} pages, {os.path.getsize(plain) / 1e6:.1f} MB of XML in {out_dir}")


if __name__ == "__main__":
    main()
