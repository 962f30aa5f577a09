"""A Python client for docproc, standard library only (no `pip install`).

The same submit / wait / result surface as the TypeScript SDK (sdk/client.ts),
in snake_case. It hides what the original client left to its caller: polling
(a long poll, `?wait=20`), the presigned path for files above the direct-upload
limit (4 MB), retries with backoff, an `Idempotency-Key` on every submission so
that a retried submit never makes two tasks, and the service's errors as
`DocprocError(code, status, retryable, message)`.

    from docproc_client import DocprocClient

    client = DocprocClient()              # DOCPROC_URL, DOCPROC_API_KEY
    task = client.submit_file("report.pdf", split=True, chunk_size=500)
    client.wait_for_task(task["task_id"], on_progress=lambda t: print(t["progress"]))
    for document in client.get_result(task["task_id"])["documents"]:
        print(document["metadata"], document["page_content"][:80])

From a shell, as the original client was used (a file, a URL or an s3:// URI):

    python3 examples/docproc_client.py report.pdf --split --chunk-size 500
"""

import datetime
import email.utils
import gzip
import http.client
import json
import mimetypes
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

__all__ = ["DocprocClient", "DocprocError", "DEFAULT_URL", "DIRECT_UPLOAD_MAX_BYTES"]

DEFAULT_URL = "http://localhost:8000/documents/async"

# The service refuses direct uploads above this (API Gateway and Lambda payload limits).
DIRECT_UPLOAD_MAX_BYTES = 4 * 1024 * 1024

FINAL_STATUSES = ("SUCCESS", "FAILURE", "REVOKED")

# The longest long poll the service grants.
MAX_WAIT_SECONDS = 20

USER_AGENT = "docproc-python-client/1"

# Media types of the formats the service reads. The service trusts the bytes first; the type
# matters for text formats, and mimetypes alone depends on the machine's /etc/mime.types.
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".epub": "application/epub+zip",
    ".eml": "message/rfc822",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
}

# A Retry-After longer than this is not waited for: the error goes to the caller.
MAX_RETRY_AFTER_SECONDS = 60

# What a lost connection looks like: socket errors (URLError is one), and a server that hung up mid-answer.
NETWORK_ERRORS = (OSError, http.client.HTTPException)


class DocprocError(Exception):
    """An error of the service (its stable `code`), or of the way to it.

    `status` is the HTTP status (None for a network error or a failed task);
    `retryable` says whether trying again may help. The codes are the
    service's (TASK_NOT_FOUND, VALIDATION_ERROR, ...), a failed task's own
    (PDF_PASSWORD_PROTECTED, UPLOAD_EXPIRED, ...), or the client's, named as
    the TypeScript SDK names them: SERVICE_UNREACHABLE (no answer, after the
    retries), HTTP_ERROR, THROTTLED and UNAUTHORIZED (an answer that is not
    the service's: a gateway, a proxy), UPLOAD_FAILED, FILE_NOT_READABLE,
    TIMEOUT, TASK_NOT_FINISHED, TASK_REVOKED.
    """

    def __init__(self, code, status=None, retryable=False, message="", details=None, request_id=None, task_id=None):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.status = status
        self.retryable = retryable
        self.message = message
        self.details = details
        self.request_id = request_id
        self.task_id = task_id

    def __repr__(self):
        return (
            f"DocprocError(code={self.code!r}, status={self.status!r}, "
            f"retryable={self.retryable!r}, message={self.message!r})"
        )


class _Retry(Exception):
    """One attempt that may be made again: the error it would be, and how long the service asked us to wait."""

    def __init__(self, error, after=None):
        super().__init__(str(error))
        self.error = error
        self.after = after


class DocprocClient:
    """The service at `base_url` (DOCPROC_URL; the `…/documents/async` base, or just the host).

    `api_key` (DOCPROC_API_KEY) is sent as `x-api-key`. `attempts`,
    `base_delay` and `max_delay` shape the retries (the TypeScript SDK's
    defaults: 5 attempts in all, delays from 0.5 s doubling up to 10 s, jittered).
    """

    def __init__(
        self,
        base_url=None,
        api_key=None,
        *,
        attempts=5,
        base_delay=0.5,
        max_delay=10.0,
        request_timeout=60.0,
        direct_upload_max_bytes=DIRECT_UPLOAD_MAX_BYTES,
    ):
        base = (base_url or os.environ.get("DOCPROC_URL") or DEFAULT_URL).rstrip("/")
        # `http://localhost:8000` is what people type; the API lives under /documents/async.
        if not urllib.parse.urlsplit(base).path.rstrip("/").endswith("/documents/async"):
            base += "/documents/async"
        self.base_url = base
        self.api_key = api_key if api_key is not None else os.environ.get("DOCPROC_API_KEY") or None
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.request_timeout = request_timeout
        self.direct_upload_max_bytes = direct_upload_max_bytes

    # ---------------------------------------------------------------- submit

    def submit_file(self, path_or_bytes, filename=None, content_type=None, idempotency_key=None, **options):
        """Submits a file (a path, or bytes with `filename`) with the service's options (split=True, chunk_size=…).

        Up to the direct-upload limit: one multipart POST /upload. Above it:
        POST /upload-url, then the file PUT to the presigned URL, streamed from
        disk (never read into memory); the task starts when the object lands.
        Returns the submission: `task_id`, `status`, `replayed` (the service
        had this Idempotency-Key: the task is the one the first request made)
        and `route` (`upload`, `upload-url` or `process`).
        """
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            data = bytes(path_or_bytes)
            path, size = None, len(data)
            filename = filename or "document"
        else:
            path = os.fspath(path_or_bytes)
            data = None
            filename = filename or os.path.basename(path)
            try:
                if not os.path.isfile(path):
                    raise IsADirectoryError(f"{path} is not a file")
                size = os.path.getsize(path)
            except OSError as error:
                raise DocprocError("FILE_NOT_READABLE", message=f"Cannot read {path}: {error}") from None
        filename = _header_text(filename)
        content_type = content_type or _media_type(filename)
        key = idempotency_key or str(uuid.uuid4())

        if size <= self.direct_upload_max_bytes:
            if data is None:
                data = _read(path)
            body, multipart_type = _multipart(options, filename, content_type, data)
            status, submitted = self._request(
                "POST",
                "/upload",
                body=body,
                headers={"content-type": multipart_type, "idempotency-key": key},
                with_status=True,
            )
            return _submitted(submitted, status, "upload")

        status, created = self._request(
            "POST",
            "/upload-url",
            json_body={"filename": filename, "content_type": content_type, "size_bytes": size, **options},
            headers={"idempotency-key": key},
            with_status=True,
        )
        upload = created.pop("upload", None)
        # A replay of a submission whose file already landed has nothing left to upload.
        if upload:
            self._put(upload, path, data, size)
        return _submitted(created, status, "upload-url")

    def submit_url(self, url, idempotency_key=None, **options):
        """Submits an http(s) URL; the service fetches it (SSRF-checked)."""
        if not url.lower().startswith(("http://", "https://")):
            raise DocprocError("VALIDATION_ERROR", message="submit_url takes an http:// or https:// URL.")
        return self._process(url, idempotency_key, options)

    def submit_s3(self, uri, idempotency_key=None, **options):
        """Submits an object by its s3://bucket/key URI (under the service's readable prefixes)."""
        if not uri.startswith("s3://"):
            raise DocprocError("VALIDATION_ERROR", message="submit_s3 takes an s3://bucket/key URI.")
        return self._process(uri, idempotency_key, options)

    def _process(self, source, idempotency_key, options):
        status, submitted = self._request(
            "POST",
            "/process",
            json_body={"source": source, **options},
            headers={"idempotency-key": idempotency_key or str(uuid.uuid4())},
            with_status=True,
        )
        return _submitted(submitted, status, "process")

    # ------------------------------------------------------------------ tasks

    def get_task(self, task_id):
        return self._request("GET", f"/tasks/{_segment(task_id)}")

    def wait_for_task(self, task_id, on_progress=None, timeout=None):
        """The task once final (SUCCESS, FAILURE or REVOKED), which it returns rather than raises.

        Long polls (`?wait=20`): the service answers as soon as the task is
        final. With `on_progress` the polls are short (2 s), so that progress
        is seen while it moves; it is called with the task whenever its status,
        stage or progress changes. A service without long polling answers at
        once: then the polls are spaced, 0.25 s doubling to 2 s. After
        `timeout` seconds: DocprocError TIMEOUT.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        longest = 2 if on_progress else MAX_WAIT_SECONDS
        seen = None
        pause = 0.25
        while True:
            wait = longest
            if deadline is not None:
                wait = max(0, min(wait, int(deadline - time.monotonic())))
            started = time.monotonic()
            task = self._request("GET", f"/tasks/{_segment(task_id)}", query={"wait": wait}, timeout_extra=wait)
            state = (task.get("status"), task.get("stage"), task.get("progress"))
            if on_progress and state != seen:
                on_progress(task)
            seen = state
            if task.get("status") in FINAL_STATUSES:
                return task
            if deadline is not None and time.monotonic() >= deadline:
                raise DocprocError(
                    "TIMEOUT",
                    retryable=True,
                    message=f"Task {task_id} still {task.get('status')} after {timeout} s.",
                    task_id=task_id,
                )
            if wait == 0 or time.monotonic() - started < wait / 2:
                # Answered early and not final: no long poll here; poll with backoff instead.
                time.sleep(pause if deadline is None else max(0, min(pause, deadline - time.monotonic())))
                pause = min(pause * 2, 2.0)

    def get_result(self, task_or_id):
        """The processing result (`documents` included even when the service moved them behind `result_url`).

        Takes a task id or a task already fetched. A task that is not SUCCESS
        raises DocprocError: its own error code on FAILURE, TASK_REVOKED,
        or TASK_NOT_FINISHED while it runs.
        """
        task = self.get_task(task_or_id) if isinstance(task_or_id, str) else task_or_id
        if not isinstance(task_or_id, str) and _expired(task.get("result", {}).get("result_url_expires_at")):
            # A link read from an old task view may have expired: a fresh view signs a new one.
            task = self.get_task(task["task_id"])
        task_id = task.get("task_id")
        status = task.get("status")
        if status == "FAILURE":
            error = task.get("error") or {}
            raise DocprocError(
                error.get("code", "TASK_FAILED"),
                retryable=bool(error.get("retryable")),
                message=error.get("message", f"Task {task_id} failed."),
                task_id=task_id,
            )
        if status == "REVOKED":
            raise DocprocError("TASK_REVOKED", message=f"Task {task_id} was cancelled.", task_id=task_id)
        if status != "SUCCESS":
            raise DocprocError(
                "TASK_NOT_FINISHED",
                retryable=True,
                message=f"Task {task_id} is {status}; wait for it first.",
                task_id=task_id,
            )
        if not isinstance(task.get("result"), dict):
            raise DocprocError("INVALID_RESPONSE", message=f"Task {task_id} is SUCCESS without a result.")
        result = dict(task["result"])
        if "documents" not in result and result.get("result_url"):
            # A presigned link: the credentials are in the URL, an API key would not belong there.
            full = self._request("GET", result["result_url"], absolute=True, authenticated=False)
            result.update(full)
        return result

    def report(self, task_or_id):
        """How well each page was read: {"summary": result["quality"], "pages": {page: metadata["quality"]}}.

        The summary counts pages by grade ("good", "fair", "poor") and by rung
        ("text_layer", "ocr", "ocr_hires") and lists the poor ones; each page's
        report gives its grade, the reasons for it and the rung it kept. None
        and {} for formats without pages.
        """
        result = self.get_result(task_or_id)
        pages = {}
        for document in result.get("documents", []):
            metadata = document.get("metadata", {})
            if isinstance(metadata.get("page"), int) and "quality" in metadata:
                pages.setdefault(metadata["page"], metadata["quality"])
        return {"summary": result.get("quality"), "pages": pages}

    def get_figure(self, task_id, figure_id):
        """One figure of a task submitted with figures="refs" (an id of result["figures"]): (media_type, bytes).

        The service answers a short-lived presigned link, read without the API key.
        """
        link = self._request("GET", f"/tasks/{_segment(task_id)}/figures/{_segment(figure_id)}")

        def attempt():
            request = urllib.request.Request(link["url"], method="GET", headers={"user-agent": USER_AGENT})
            try:
                with self._open(request, self.request_timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as error:
                raised = DocprocError(
                    "FIGURE_FETCH_FAILED",
                    status=error.code,
                    retryable=_retryable_status(error.code),
                    message=f"The storage answered {error.code} for figure {figure_id}.",
                )
                if raised.retryable:
                    raise _Retry(raised, _retry_after(error.headers)) from None
                raise raised from None
            except NETWORK_ERRORS as error:
                raise self._network_error(error, True) from None

        return link.get("media_type", "application/octet-stream"), self._with_retries(attempt)

    def list_tasks(self, status=None, limit=None, next_token=None):
        """The pages of this API key's tasks, newest first, as the TypeScript SDK yields them (a generator).

        Each page is the service's `{"tasks": [...], "next_token": ...}`; the
        next one is fetched only when asked for. `iter_tasks` gives the tasks.
        """
        return self._pages("/tasks", status, limit, next_token)

    def iter_tasks(self, status=None, limit=None):
        """Every task of this API key, newest first, across pages."""
        for page in self.list_tasks(status, limit):
            yield from page.get("tasks", [])

    def cancel(self, task_id):
        # Not retried on a lost answer: a second cancel would report TASK_NOT_CANCELLABLE for a cancel that worked.
        return self._request("POST", f"/tasks/{_segment(task_id)}/cancel", idempotent=False)

    def retry(self, task_id):
        return self._request("POST", f"/tasks/{_segment(task_id)}/retry", idempotent=False)

    # ---------------------------------------------------------------- batches

    def create_batch(self, sources=None, source=None, **options):
        """A batch of URLs and s3:// URIs (`sources`), or of every object under an s3:// prefix (`source`)."""
        if (sources is None) == (source is None):
            raise DocprocError("VALIDATION_ERROR", message="create_batch takes sources=[…] or source='s3://…/'.")
        body = {"sources": list(sources)} if sources is not None else {"source": source}
        return self._request("POST", "/batches", json_body={**body, **options}, idempotent=False)

    def get_batch(self, batch_id):
        return self._request("GET", f"/batches/{_segment(batch_id)}")

    def list_batch_tasks(self, batch_id, status=None, limit=None, next_token=None):
        """The pages of a batch's tasks, in listing order."""
        return self._pages(f"/batches/{_segment(batch_id)}/tasks", status, limit, next_token)

    def cancel_batch(self, batch_id):
        return self._request("POST", f"/batches/{_segment(batch_id)}/cancel", idempotent=False)

    def retry_batch(self, batch_id):
        return self._request("POST", f"/batches/{_segment(batch_id)}/retry", idempotent=False)

    def _pages(self, path, status, limit, token):
        while True:
            page = self._request("GET", path, query={"status": status, "limit": limit, "next_token": token})
            yield page
            token = page.get("next_token")
            if not token:
                return

    # ------------------------------------------------------------- transport

    def _request(
        self,
        method,
        path,
        *,
        query=None,
        json_body=None,
        body=None,
        headers=None,
        idempotent=True,
        absolute=False,
        authenticated=True,
        timeout_extra=0,
        with_status=False,
    ):
        """One API call, retried on 429, 5xx and network errors when doing it twice is harmless.

        Calls that are not (cancel, retry, batches) are retried only when the
        service certainly did nothing: a 429, or a connection refused.
        """
        url = path if absolute else self.base_url + path
        if query:
            pairs = {key: value for key, value in query.items() if value is not None}
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        all_headers = {"accept": "application/json", "accept-encoding": "gzip", "user-agent": USER_AGENT}
        if authenticated and self.api_key:
            all_headers["x-api-key"] = self.api_key
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers["content-type"] = "application/json"
        all_headers.update(headers or {})

        def attempt():
            request = urllib.request.Request(url, data=body, method=method, headers=all_headers)
            try:
                with self._open(request, self.request_timeout + timeout_extra) as response:
                    status, response_headers, raw = response.status, response.headers, response.read()
            except urllib.error.HTTPError as error:
                raised = _http_error(error)
                if raised.retryable and (idempotent or error.code == 429):
                    raise _Retry(raised, _retry_after(error.headers)) from None
                raise raised from None
            except NETWORK_ERRORS as error:
                raise self._network_error(error, idempotent) from None
            try:
                parsed = _json_of(raw, response_headers)
            except (ValueError, OSError, EOFError) as error:
                # A 2xx that is not JSON: a proxy's page, not the service.
                raise DocprocError(
                    "INVALID_RESPONSE", status=status, message=f"{method} {path}: not the JSON expected ({error})"
                ) from None
            return (status, parsed) if with_status else parsed

        return self._with_retries(attempt)

    def _put(self, upload, path, data, size):
        """The file to its presigned URL: the signed headers, an exact Content-Length, the bytes streamed from disk."""
        headers = {**upload.get("headers", {}), "content-length": str(size), "user-agent": USER_AGENT}

        def attempt():
            # Opened per attempt: a retry sends the file from its start.
            handle = open(path, "rb") if data is None else None
            try:
                request = urllib.request.Request(
                    upload["url"], data=handle if handle else data, method=upload.get("method", "PUT"), headers=headers
                )
                with self._open(request, self.request_timeout + size / 1_000_000):
                    return None
            except urllib.error.HTTPError as error:
                text = error.read()[:500].decode("utf-8", "replace")
                raised = DocprocError(
                    "UPLOAD_FAILED",
                    status=error.code,
                    retryable=_retryable_status(error.code),
                    message=f"The storage refused the upload ({error.code}): {text}",
                )
                if raised.retryable:
                    raise _Retry(raised, _retry_after(error.headers)) from None
                raise raised from None
            except NETWORK_ERRORS as error:
                # A PUT of the same bytes to the same key is harmless twice.
                raise self._network_error(error, True) from None
            finally:
                if handle:
                    handle.close()

        self._with_retries(attempt)

    def _open(self, request, timeout):
        """The one place a request leaves (tests replace it to lose answers on purpose)."""
        return urllib.request.urlopen(request, timeout=timeout)

    def _network_error(self, error, idempotent):
        reason = getattr(error, "reason", error)
        raised = DocprocError(
            "SERVICE_UNREACHABLE",
            retryable=True,
            message=f"No answer from {urllib.parse.urlsplit(self.base_url).netloc}: {reason}",
        )
        # A refused connection carried nothing to the service: safe to try again whatever the call.
        if idempotent or isinstance(reason, ConnectionRefusedError):
            return _Retry(raised)
        return raised

    def _with_retries(self, attempt):
        for number in range(1, self.attempts + 1):
            try:
                return attempt()
            except _Retry as retry:
                if number == self.attempts or (retry.after or 0) > MAX_RETRY_AFTER_SECONDS:
                    raise retry.error from None
                # Jitter over the upper half: clients that failed together do not come back
                # together, and each delay still grows.
                ceiling = min(self.max_delay, self.base_delay * 2 ** (number - 1))
                delay = ceiling / 2 + random.uniform(0, ceiling / 2)
                time.sleep(max(delay, retry.after or 0))
        raise AssertionError("unreachable")


def _submitted(body, status, route):
    # 200 instead of 201/202: the Idempotency-Key was known, and this is the first request's task.
    return {**body, "replayed": status == 200, "route": route}


def _media_type(filename):
    extension = os.path.splitext(filename)[1].lower()
    return MEDIA_TYPES.get(extension) or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise DocprocError("FILE_NOT_READABLE", message=f"Cannot read {path}: {error}") from None


def _expired(timestamp, margin=5):
    """Whether an ISO-8601 time (the service writes UTC with a Z) is past, or within `margin` seconds."""
    if not timestamp:
        return False
    try:
        moment = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.timestamp() <= time.time() + margin


def _retryable_status(status):
    """429 and 5xx may pass; 501 (not implemented) never will."""
    return status == 429 or (500 <= status <= 599 and status != 501)


def _segment(identifier):
    return urllib.parse.quote(str(identifier), safe="")


def _json_of(raw, headers):
    if headers.get("content-encoding", "").lower() == "gzip":
        raw = gzip.decompress(raw)
    return json.loads(raw) if raw else {}


def _http_error(error):
    """The DocprocError of a non-2xx answer: the service's body when it is one, else a code from the status."""
    headers = error.headers or {}
    request_id = headers.get("x-amzn-requestid") or headers.get("x-request-id")
    try:
        body = _json_of(error.read(), headers)
    except (ValueError, OSError):
        body = None
    payload = body.get("error") if isinstance(body, dict) else None
    if isinstance(payload, dict) and isinstance(payload.get("code"), str):
        retryable = payload.get("retryable")
        return DocprocError(
            payload["code"],
            status=error.code,
            retryable=_retryable_status(error.code) if retryable is None else bool(retryable),
            message=payload.get("message") or f"HTTP {error.code}",
            details=payload.get("details"),
            request_id=request_id,
        )
    # API Gateway's own answers (throttling, a refused key) are {"message": "..."}; a proxy's are anything.
    code = {429: "THROTTLED", 401: "UNAUTHORIZED", 403: "UNAUTHORIZED"}.get(error.code, "HTTP_ERROR")
    message = body.get("message") if isinstance(body, dict) else None
    return DocprocError(
        code,
        status=error.code,
        retryable=_retryable_status(error.code),
        message=f"HTTP {error.code}: {message or error.reason}",
        request_id=request_id,
    )


def _retry_after(headers):
    """Seconds the service asked us to wait: Retry-After as seconds or as an HTTP date."""
    value = (headers or {}).get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _form_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def _quoted(text):
    """A quoted-string parameter: backslash escapes; line breaks would end the header."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ") + '"'


def _header_text(text):
    """Text as a header can carry it: a name from os.fsdecode may hold surrogates for undecodable bytes
    (b"caf\\xe9.txt" -> "caf\\udce9.txt") that UTF-8 cannot encode; each becomes U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _multipart(options, filename, content_type, data):
    filename = _header_text(filename)
    boundary = f"docproc-{uuid.uuid4().hex}"
    parts = []
    for name, value in options.items():
        if value is None:
            continue
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{_form_value(value)}\r\n'.encode()
        )
    parts.append(
        (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename={_quoted(filename)}\r\n"
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
    )
    parts.append(data)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _main(argv):
    import argparse

    parser = argparse.ArgumentParser(
        description="Process a document with docproc and print its documents (DOCPROC_URL, DOCPROC_API_KEY)."
    )
    parser.add_argument("source", help="a file, an http(s) URL or an s3:// URI")
    parser.add_argument("--split", action="store_true", help="split into chunks")
    parser.add_argument("--chunk-size", type=int)
    parser.add_argument("--chunk-overlap", type=int)
    parser.add_argument("--url", help="the API base (default: DOCPROC_URL or http://localhost:8000)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    options = {"split": True} if args.split else {}
    if args.chunk_size is not None:
        options["chunk_size"] = args.chunk_size
    if args.chunk_overlap is not None:
        options["chunk_overlap"] = args.chunk_overlap

    client = DocprocClient(base_url=args.url)
    try:
        if args.source.lower().startswith(("http://", "https://")):
            task = client.submit_url(args.source, **options)
        elif args.source.startswith("s3://"):
            task = client.submit_s3(args.source, **options)
        else:
            task = client.submit_file(args.source, **options)
        # The original client's lines, so that scripts reading them keep working.
        print(f"Task submitted: {task['task_id']}", flush=True)

        def progress(current):
            line = f"  {current['status']:<15} {current.get('progress', 0):>3}% {current.get('stage', '')}"
            print(line, file=sys.stderr)

        final = client.wait_for_task(task["task_id"], on_progress=progress)
        result = client.get_result(final)
    except DocprocError as error:
        print(f"Task failed: {error}" if error.task_id else f"Error: {error}", file=sys.stderr)
        # The CLI's exit codes: 1 the task or the request failed, 2 usage, 3 no service.
        return {"SERVICE_UNREACHABLE": 3, "FILE_NOT_READABLE": 2}.get(error.code, 1)

    print(f"Processed {result['document_count']} documents")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for index, document in enumerate(result.get("documents", []), 1):
        print(f"--- document {index} {json.dumps(document['metadata'], ensure_ascii=False)}")
        print(document["page_content"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_main(sys.argv[1:]))
    except BrokenPipeError:
        # Piped into `head`: the reader has what it wanted.
        sys.stderr.close()
        sys.exit(0)
