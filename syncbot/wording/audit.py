"""The labels of `syncbot audit show`, in Vietnamese: the inspector reads the record as filed.

The record's own reason is shown in Vietnamese as it was written at the time; these are the
words around it. Machine fields (run, ok/failed, action kinds) stay as stored, so the text
view and the JSON lines use the same names for them.
"""

from __future__ import annotations

EMPLOYEE_ID = "mã NV"
REASON = "Lý do"
CHANGE = "Thay đổi"
EVIDENCE = "Căn cứ"
ROW = "dòng"
ERROR = "Lỗi"
UNKNOWN_ERROR = "(không rõ)"
