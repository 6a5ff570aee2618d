"""Outputs at scale (issue 16 item 4, the crash at ~217k pupils): a table with more rows
than a sheet should hold goes to CSV only, and results.xlsx says where it is."""
import pandas as pd
from openpyxl import load_workbook

from mut_eval.results import LARGE_SHEET, SHEET_ROWS_MAX, Results, write_results


def test_a_table_too_long_for_a_sheet_is_written_as_csv_and_listed(tmp_path):
    n = SHEET_ROWS_MAX + 1
    big = pd.DataFrame({"file": ["students.csv"] * n, "row": range(2, n + 2), "status": "included"})
    small = pd.DataFrame({"outcome": ["self_efficacy"], "n": [12]})
    write_results(Results(tables={"accounting": big, "did": small}, meta={}), tmp_path)
    wb = load_workbook(tmp_path / "results.xlsx", read_only=True)
    assert "accounting" not in wb.sheetnames and "did" in wb.sheetnames
    listed = list(wb[LARGE_SHEET].values)
    assert listed[0][:3] == ("table", "rows", "file") and listed[1][:3] == ("accounting", n, "tables/accounting.csv")
    assert len(pd.read_csv(tmp_path / "tables" / "accounting.csv")) == n
