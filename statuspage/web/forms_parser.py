"""The request class: form bodies bounded by field count as well as by size."""

from __future__ import annotations

import io

from flask import Request as FlaskRequest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser


class FieldCountingFormDataParser(FormDataParser):
    """``MAX_FORM_PARTS`` for urlencoded forms too (Werkzeug counts multipart parts only):
    10,000 fields get 413, as a multipart form with as many parts does."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        data = stream.read()  # already bounded by MAX_CONTENT_LENGTH
        if self.max_form_parts is not None:
            fields = sum(1 for part in data.split(b"&") if part)
            if fields > self.max_form_parts:
                raise RequestEntityTooLarge()
        return super()._parse_urlencoded(io.BytesIO(data), mimetype, content_length,
                                         options)


class Request(FlaskRequest):
    form_data_parser_class = FieldCountingFormDataParser
