"""What the worker says: its status as `syncbot status` shows it, and its answers to HR pushes.

The push endpoint answers an HR system's integrator, who reads either language, so each refusal
carries both; its machine-readable reason code stays beside the check in `syncbot.worker.push`.
"""

from __future__ import annotations

from syncbot.wording.pair import Pair, both

# --- `syncbot status` ---------------------------------------------------------------------

#: How a run ended, by the result the status file records.
RESULTS: dict[str, Pair] = {
    "ok": ("thành công", "succeeded"),
    "failed": ("lỗi", "failed"),
    "refused": ("bị từ chối (vượt ngưỡng an toàn)", "refused (safety threshold)"),
    "invalid": ("dữ liệu không hợp lệ", "invalid input"),
    "interrupted": ("bị dừng giữa chừng", "interrupted"),
}
WORKER: Pair = ("Tiến trình", "worker")
STARTED: Pair = ("khởi động", "started")
LAST_RUN: Pair = ("Lần chạy gần nhất", "last run")
NONE_YET: Pair = ("chưa có", "none yet")
RUN_STARTED: Pair = ("bắt đầu", "started")
FINISHED: Pair = ("xong", "finished")
CHANGES: Pair = ("thay đổi", "changes")
FAILED: Pair = ("lỗi", "failed")
DETAIL: Pair = ("chi tiết", "detail")
NEXT_RUN: Pair = ("Lần chạy kế tiếp", "next run")
NOT_SCHEDULED: Pair = ("chưa lên lịch", "none")
DUE_DATES: Pair = ("Ngày hiệu lực sắp tới", "pending due dates")
RETRY_AT: Pair = ("Thử lại lúc", "retry at")
QUEUED: Pair = ("Đang chờ", "queued")
NONE: Pair = ("không", "none")
PUSHED_IN_FORCE: Pair = ("Dòng HR đẩy sang đang có hiệu lực", "pushed rows in force")
PUSHED_UNTIL: Pair = (
    "đến khi tệp xuất mới thay đổi dòng của người đó",
    "until an export changes that person",
)
FROM: Pair = ("từ", "from")


def already_running(holder: str, path: str) -> str:
    # English first: it ends up in the journal, read by whoever runs the service.
    return (
        f"another syncbot worker (pid {holder}) already runs for this config "
        f"({path}); stop it first / đã có một tiến trình syncbot run khác đang chạy"
    )


# --- answers to an HR push ----------------------------------------------------------------

MISSING_TOKEN: Pair = ("thiếu mã xác thực", "missing token")
BAD_TOKEN: Pair = ("mã xác thực không đúng", "wrong token")
BAD_TIMESTAMP: Pair = (
    "thiếu hoặc sai X-Syncbot-Timestamp",
    "missing or invalid X-Syncbot-Timestamp",
)
STALE_TIMESTAMP: Pair = (
    "X-Syncbot-Timestamp lệch quá 5 phút so với đồng hồ máy chủ",
    "X-Syncbot-Timestamp is more than 5 minutes off the server clock",
)
BAD_SIGNATURE: Pair = ("chữ ký HMAC không đúng", "wrong HMAC signature")
REPLAYED: Pair = (
    "yêu cầu có chữ ký này đã được nhận rồi; hãy ký lại với X-Syncbot-Timestamp mới",
    "this signed request was already received; sign it again with a new X-Syncbot-Timestamp",
)
ROWS_NOT_ARRAY: Pair = ("'rows' phải là một mảng", "'rows' must be an array")
NOBODY: Pair = ("yêu cầu không nêu người nào", "the request names nobody")
INVALID_ROWS: Pair = ("dữ liệu nhân sự không hợp lệ", "invalid roster rows")
REPEATED_KEY: Pair = ("khóa JSON bị lặp lại", "a JSON key is repeated")
NOT_JSON: Pair = ("nội dung không phải JSON UTF-8 hợp lệ", "the body is not valid UTF-8 JSON")
NOT_OBJECT: Pair = ("JSON phải là một đối tượng", "the JSON must be an object")
IDS_NOT_ARRAY: Pair = ("'employee_ids' phải là một mảng chuỗi", "'employee_ids' must be an array")
QUEUE_FAILED: Pair = (
    "chưa thể xếp hàng yêu cầu, hãy gửi lại sau",
    "the request could not be queued; retry later",
)
NOT_FOUND: Pair = ("không có", "not found")
ONLY_POST: Pair = ("chỉ nhận POST", "only POST is accepted")
SHORT_BODY: Pair = ("nội dung bị cắt ngắn", "the body is shorter than Content-Length")
NOT_JSON_TYPE: Pair = (
    "Content-Type phải là application/json",
    "Content-Type must be application/json",
)
CHUNKED: Pair = (
    "không nhận Transfer-Encoding; hãy gửi Content-Length",
    "Transfer-Encoding is not accepted; send Content-Length",
)
NO_LENGTH: Pair = ("thiếu Content-Length", "missing Content-Length")
BAD_LENGTH: Pair = ("Content-Length không hợp lệ", "invalid Content-Length")


def unknown_keys(keys: list[str]) -> str:
    listed = ", ".join(keys)
    return both(
        (
            f"khóa không được hỗ trợ: {listed}; chỉ nhận employee_ids, rows",
            f"unsupported keys: {listed}; only employee_ids, rows are accepted",
        )
    )


def too_many_ids(limit: int) -> str:
    return both((f"'employee_ids' có quá {limit} mã", f"'employee_ids' has more than {limit} ids"))


def bad_id(position: int) -> str:
    return both(
        (
            f"'employee_ids' phần tử {position} phải là chuỗi không rỗng",
            f"'employee_ids' item {position} must be a non-empty string",
        )
    )


def too_large(limit: int) -> str:
    return both((f"nội dung vượt quá {limit} byte", f"the body is larger than {limit} bytes"))
