"""How a problem in an HR roster file is worded, Vietnamese for the HR clerk, English for support.

Each function names one problem and takes the values it shows; `syncbot.roster.problems.say`
joins the pair and lists the accepted values. Grouped as the reader meets them: the file, its
header, then each cell.
"""

from __future__ import annotations

from syncbot.wording.pair import Pair

ACCEPTED: Pair = ("chấp nhận", "accepted")


def row_label(row: int, records: bool) -> Pair:
    """How a row is named; a JSON file's rows are the records of an array."""
    if records:
        return f"bản ghi {row}", f"record {row}"
    return f"dòng {row}", f"row {row}"


# --- the file -------------------------------------------------------------------------------

NO_FILE: Pair = ("không tìm thấy tệp", "the file does not exist")
XLS_UNSUPPORTED: Pair = (
    "tệp Excel 97-2003 (.xls) không được hỗ trợ; hãy lưu lại dạng .xlsx hoặc CSV UTF-8",
    "Excel 97-2003 files (.xls) are not supported; save as .xlsx or CSV UTF-8",
)
NUL_FILLED: Pair = (
    "tệp chứa nhiều ký tự NUL (có thể là UTF-16 không có BOM); "
    "hãy lưu lại dạng 'CSV UTF-8 (Comma delimited)'",
    "the file is full of NUL characters (UTF-16 without a BOM?); "
    "save it again as 'CSV UTF-8 (Comma delimited)'",
)
XLSX_AS_CSV: Pair = (
    "đây là tệp Excel (.xlsx), không phải CSV; hãy đổi đuôi tệp thành .xlsx",
    "this is an Excel workbook (.xlsx), not CSV; name it .xlsx",
)
XLS_AS_CSV: Pair = (
    "đây là tệp Excel 97-2003 (.xls); hãy lưu lại dạng .xlsx hoặc CSV UTF-8",
    "this is an Excel 97-2003 workbook (.xls); save it as .xlsx or CSV UTF-8",
)
JSON_NOT_UTF8: Pair = (
    "tệp JSON không phải UTF-8; hãy xuất lại với bảng mã UTF-8",
    "the JSON file is not UTF-8; export it again as UTF-8",
)
JSON_TOO_DEEP: Pair = ("JSON lồng nhau quá sâu", "JSON nested too deeply")
JSON_NO_ARRAY: Pair = (
    "JSON phải là một mảng các đối tượng, hoặc một đối tượng có đúng một mảng dưới khóa sau",
    "JSON must be an array of objects, or an object with exactly one array under one of these keys",
)


def unknown_file_type(suffix: str) -> Pair:
    return f"không nhận ra loại tệp '{suffix}'", f"unrecognised file type '{suffix}'"


def unreadable(reason: str) -> Pair:
    return f"không đọc được tệp: {reason}", f"the file cannot be read: {reason}"


def bad_encoding(codec: str, where: str) -> Pair:
    return (
        f"tệp không đọc được bằng bảng mã {codec} ({where}); trong Excel hãy chọn "
        "Lưu thành (Save As) → 'CSV UTF-8 (Comma delimited) (*.csv)'",
        f"the file is not valid {codec} (at {where}); in Excel use "
        "Save As → 'CSV UTF-8 (Comma delimited) (*.csv)'",
    )


def malformed_csv(error: object) -> Pair:
    return (
        f"lỗi cấu trúc CSV ({error}); kiểm tra dấu ngoặc kép chưa đóng",
        f"malformed CSV ({error}); look for an unclosed double quote",
    )


def invalid_json(line: int, column: int, message: str) -> Pair:
    return (
        f"JSON không hợp lệ ở dòng {line}, cột {column}: {message}",
        f"invalid JSON at line {line}, column {column}: {message}",
    )


def corrupt_xlsx(error_name: str) -> Pair:
    return (
        "tệp không phải bảng tính Excel .xlsx hợp lệ (hỏng hoặc sai định dạng); "
        "hãy mở bằng Excel và lưu lại dạng 'Excel Workbook (*.xlsx)'",
        "not a valid .xlsx workbook (damaged or another format); "
        f"open it in Excel and save as 'Excel Workbook (*.xlsx)' [{error_name}]",
    )


def no_sheet(sheet: str | None) -> Pair:
    """`sheet` None: the workbook has none at all."""
    if sheet:
        return f"không có trang tính '{sheet}'", f"no sheet named '{sheet}'"
    return "bảng tính không có trang tính nào", "the workbook has no worksheet"


def empty_sheet(title: str) -> Pair:
    return (
        f"trang tính '{title}' trống, không có dòng tiêu đề",
        f"sheet '{title}' is empty: no header row",
    )


# --- the header -----------------------------------------------------------------------------

NO_HEADER: Pair = ("tệp không có dòng tiêu đề", "the file has no header row")


def duplicate_column(text: str, earlier: str, name: str) -> Pair:
    return (
        f"cột '{text}' trùng với cột '{earlier}' (cùng là {name})",
        f"column '{text}' duplicates column '{earlier}' (both are {name})",
    )


def duplicate_key(key: str, earlier: str, name: str) -> Pair:
    return (
        f"khóa '{key}' trùng với khóa '{earlier}' (cùng là {name})",
        f"key '{key}' duplicates key '{earlier}' (both are {name})",
    )


def missing_column(name: str) -> Pair:
    return f"thiếu cột {name}", f"missing column {name}"


# --- rows and cells -------------------------------------------------------------------------

NOT_AN_OBJECT: Pair = ("phần tử không phải đối tượng JSON", "the element is not a JSON object")
NOT_A_SCALAR: Pair = (
    "giá trị phải là chuỗi, số hoặc null",
    "the value must be a string, a number or null",
)
CONTROL_CHARACTER: Pair = (
    "ô chứa ký tự điều khiển (không in được)",
    "the cell contains a control character",
)


def extra_cells(count: int, width: int) -> Pair:
    return (
        f"dòng có {count} ô nhưng tiêu đề chỉ có {width} cột; "
        "ô chứa dấu phân cách phải được đặt trong ngoặc kép",
        f"the row has {count} cells but the header has {width}; "
        "a cell containing the delimiter must be quoted",
    )


def excel_error(text: str) -> Pair:
    return (
        f"ô hiển thị lỗi công thức Excel '{text}'",
        f"the cell shows the Excel formula error '{text}'",
    )


def too_long(length: int, limit: int) -> Pair:
    return (
        f"ô dài {length} ký tự, tối đa {limit}",
        f"the cell is {length} characters long, at most {limit}",
    )


def empty_cell(column: str) -> Pair:
    return f"ô '{column}' không được để trống", f"'{column}' must not be empty"


def bad_email(written: str) -> Pair:
    return (
        f"email '{written}' không hợp lệ (cần đúng một @, tên miền có dấu chấm, "
        "không dấu cách, không dấu tiếng Việt)",
        f"'{written}' is not an email address (one @, a dot in the domain, no spaces, ASCII only)",
    )


def unknown_status(word: str) -> Pair:
    return f"trạng thái '{word}' không có trong danh mục", f"unknown status '{word}'"


def date_required(column: str) -> Pair:
    return (
        f"ô '{column}' phải có ngày khi trạng thái là nghỉ việc hoặc chuyển công tác",
        f"'{column}' is required when the status is departed or transferred",
    )


def unknown_role(word: str) -> Pair:
    return f"vai trò '{word}' không có trong danh mục", f"unknown role '{word}'"


def duplicate_id(employee_id: str, earlier: Pair) -> Pair:
    """`earlier`: the other row's label, from `row_label`."""
    return (
        f"mã cán bộ '{employee_id}' trùng với {earlier[0]}",
        f"employee_id '{employee_id}' duplicates {earlier[1]}",
    )


def number_not_date(value: object) -> Pair:
    return (
        f"ô chứa số '{value}', không phải ngày; hãy định dạng ô là ngày hoặc ghi dd/mm/yyyy",
        f"cell holds the number '{value}', not a date; format it as a date or write dd/mm/yyyy",
    )


def not_a_date(value: object) -> Pair:
    return f"giá trị '{value}' không phải ngày tháng", f"value '{value}' is not a date"


def unrecognised_date(text: str) -> Pair:
    return (
        f"không hiểu ngày '{text}'; dùng dd/mm/yyyy (ví dụ 05/01/2026) hoặc yyyy-mm-dd",
        f"unrecognised date '{text}'; use dd/mm/yyyy (e.g. 05/01/2026) or yyyy-mm-dd",
    )


def no_such_date(text: str, day: int, month: int, year: int) -> Pair:
    return (
        f"ngày '{text}' không tồn tại (ngày {day}, tháng {month}, năm {year})",
        f"date '{text}' does not exist (day {day}, month {month}, year {year})",
    )


def implausible_year(text: str) -> Pair:
    return f"năm trong ngày '{text}' không hợp lý", f"the year of date '{text}' is implausible"


def boolean_not_text(value: object) -> Pair:
    return (
        f"ô chứa giá trị đúng/sai '{value}', không phải văn bản",
        f"cell holds the boolean '{value}', not text",
    )


def invalid_number(value: object) -> Pair:
    return f"số không hợp lệ '{value}'", f"invalid number '{value}'"


def fractional_id(value: object) -> Pair:
    return (
        f"mã '{value}' là số lẻ, không phải mã cán bộ",
        f"'{value}' is a fractional number, not an employee id",
    )
