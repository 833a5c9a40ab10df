"""Lab check on a bench: two transactions call ``btu.enqueue_in`` with the same
``unique_key`` at once; both must get the same item (one row), not an error.

Commits to the site's database (and deletes what it made), so it is not a site test::

    cd frappe-bench/sites
    ../env/bin/python ../apps/btu/benchmarks/check_unique_key_race.py SITE

Transaction A inserts and holds its transaction open for 2 s; B calls 0.5 s later, waits
on the unique index until A commits, then must find A's item with a locking read.
"""

from __future__ import annotations

import sys
import threading
import time

import frappe


def run(site: str) -> int:
    key = f"race-{time.time()}"
    out: dict[str, str] = {}

    def worker(label: str, delay: float, hold: float) -> None:
        frappe.init(site=site, sites_path=".")
        frappe.connect()
        frappe.set_user("Administrator")
        import btu

        time.sleep(delay)
        try:
            out[label] = btu.enqueue_in(3600, "btu.samples.hello", unique_key=key)
        except Exception as e:  # reported below: the check fails
            out[label] = f"ERROR {type(e).__name__}: {e}"
        time.sleep(hold)
        frappe.db.commit()
        frappe.destroy()

    a = threading.Thread(target=worker, args=("A", 0.0, 2.0))
    b = threading.Thread(target=worker, args=("B", 0.5, 0.0))
    a.start()
    b.start()
    a.join()
    b.join()
    frappe.init(site=site, sites_path=".")
    frappe.connect()
    rows = frappe.db.count("BTU Run Later", {"unique_key": key})
    frappe.db.delete("BTU Run Later", {"unique_key": key})
    frappe.db.commit()
    frappe.destroy()
    ok = out.get("A") == out.get("B") and rows == 1
    print(f"A={out.get('A')} B={out.get('B')} rows={rows}: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: check_unique_key_race.py SITE", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1]))
