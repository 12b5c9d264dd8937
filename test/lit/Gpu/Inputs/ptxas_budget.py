"""Reads `ptxas -v` output on stdin; fails unless exactly EXPECTED kernels
were compiled, each with at most BUDGET registers, no spills and no stack."""
import re
import sys

budget, expected = int(sys.argv[1]), int(sys.argv[2])
kernel, seen, bad = None, 0, []
for line in sys.stdin:
    m = re.search(r"Compiling entry function '([^']+)'", line)
    if m:
        kernel = m.group(1)
        seen += 1
        continue
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
    if m and any(int(v) for v in m.groups()):
        bad.append(f"{kernel}: {line.strip()}")
    m = re.search(r"Used (\d+) registers", line)
    if m and int(m.group(1)) > budget:
        bad.append(f"{kernel}: {m.group(1)} registers (budget {budget})")
    if "error" in line:
        bad.append(line.strip())
if bad or seen != expected:
    print(f"{seen} kernels compiled (expected {expected})")
    print("\n".join(bad))
    sys.exit(1)
print(f"{seen} kernels within {budget} registers, no spills")
