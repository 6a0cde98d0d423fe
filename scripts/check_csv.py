#!/usr/bin/env python3
"""Reads a cc-export CSV with Python's csv module and checks it: the design's header, the row
count, and unique, non-empty contact ids. Usage: check_csv.py FILE EXPECTED_ROWS"""
import csv
import sys

DEFAULT_HEADER = [
    "Email", "First Name", "Last Name", "Contact ID", "Job Title", "Company Name", "Work Phone",
    "Home Phone", "Mobile Phone", "Address Line 1", "City", "State", "Country", "Zip/Postal Code",
    "Birthday", "Anniversary", "Email Permission", "List Memberships", "Tags", "Created At",
    "Updated At",
]


def main() -> int:
    path, expected = sys.argv[1], int(sys.argv[2])
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, strict=True)
        header = next(reader)
        if header[: len(DEFAULT_HEADER)] != DEFAULT_HEADER:
            print(f"FAIL header: {header}")
            return 1
        id_col = header.index("Contact ID")
        ids, rows = set(), 0
        for row in reader:
            rows += 1
            if len(row) != len(header):
                print(f"FAIL row {rows} has {len(row)} fields, header has {len(header)}")
                return 1
            if not row[id_col]:
                print(f"FAIL row {rows} has no contact id")
                return 1
            ids.add(row[id_col])
    if rows != expected or len(ids) != expected:
        print(f"FAIL rows={rows} unique ids={len(ids)} expected={expected}")
        return 1
    extra = header[len(DEFAULT_HEADER):]
    print(f"OK {rows} rows, {len(ids)} unique contact ids, header = design's {len(DEFAULT_HEADER)} columns + {len(extra)} custom field columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
