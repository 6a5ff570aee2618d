"""The intake: from a school's export to validated, scored tables.

The flow inside (each module only imports those before it)::

    study.py (study.yaml, the folder's files) -> io.py (read csv/xlsx/sav as text)
    -> validate.py (rules, recodes, ids; every problem with file, row, column, value)
    -> codebook.py / scoring.py / derive.py (scales, scores, derived characteristics)

Its one exit is :mod:`mut_eval.panel` (``load_panel``), which pseudonymises the pupils
and builds the long and wide views the analyses read.
"""
