"""The multipart form of `POST /v1/audio/transcriptions`, read by hand so that repeated fields, OpenAI's
`name[]` spelling and every validation error come out the same way (422 naming the field)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.datastructures import FormData, UploadFile

from bot.models import TimestampGranularity, normalize_bias, parse_languages
from bot.service.api_errors import ApiError
from bot.service.openai_compat import ResponseFormat

LIST_FIELDS = ("context_bias", "timestamp_granularities")
#: Known voices a request may name, and the length of a name (the audio is capped by the body limit).
MAX_SPEAKER_REFERENCES = 8
MAX_SPEAKER_NAME = 64


class TranscriptionForm(BaseModel):
    """Every field but the uploaded file; one of `file`, `file_url`, `file_id` names the audio."""

    model: str = Field(min_length=1, max_length=200, description="model id, from GET /v1/models")
    file_url: str | None = Field(None, max_length=4096, description="http(s) URL the service downloads")
    file_id: str | None = Field(None, max_length=200, description="id returned by POST /v1/files")
    language: list[str] = Field(
        default_factory=list,
        description="ISO 639-1 code like `en`; omitted: detect. Several (`en,fr`): detect among them only",
    )
    temperature: float | None = Field(None, ge=0.0, le=1.0, description="decoding temperature")
    diarize: bool = Field(False, description="label speakers (`speaker_id` on segments)")
    context_bias: list[str] = Field(default_factory=list, description="words or phrases to favour (repeat the field)")
    timestamp_granularities: list[TimestampGranularity] = Field(
        default_factory=lambda: ["segment"], description="`segment` (repeat the field)"
    )
    speaker_references: dict[str, bytes] = Field(
        default_factory=dict,
        description="JSON object: a speaker's name -> base64 of a short recording of them (needs `diarize`)",
    )
    stream: bool = Field(False, description="answer with Server-Sent Events")
    response_format: ResponseFormat | None = Field(
        None, description="OpenAI clients: json, verbose_json, text, srt or vtt (absent: Mistral's answer)"
    )

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> list[str]:
        # Mistral's field holds one code; a comma-separated list is our extension (candidates).
        return parse_languages(value)

    @field_validator("context_bias", mode="before")
    @classmethod
    def _bias(cls, value: Any) -> list[str]:
        # Voxtral 3 clients write a multi-word phrase with underscores (`pull_request`): Whisper's
        # hotwords want the words.
        return normalize_bias([str(v).replace("_", " ") for v in value or []])

    @field_validator("file_url", "file_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("speaker_references", mode="before")
    @classmethod
    def _references(cls, value: Any) -> dict[str, bytes]:
        if value in (None, ""):
            return {}
        try:
            given = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            raise ValueError("speaker_references must be a JSON object: name -> base64 audio") from None
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise ValueError("speaker_references must be a JSON object: name -> base64 audio")
        if len(given) > MAX_SPEAKER_REFERENCES:
            raise ValueError(f"at most {MAX_SPEAKER_REFERENCES} speaker_references")
        out: dict[str, bytes] = {}
        for name, encoded in given.items():
            label = str(name).strip()
            if not 0 < len(label) <= MAX_SPEAKER_NAME:
                raise ValueError(f"a speaker's name must be 1 to {MAX_SPEAKER_NAME} characters")
            try:
                audio = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"speaker_references[{label!r}] is not base64") from None
            if not audio:
                raise ValueError(f"speaker_references[{label!r}] is empty")
            out[label] = audio
        return out

    @field_validator("timestamp_granularities", mode="before")
    @classmethod
    def _default_granularity(cls, value: Any) -> Any:
        return value or ["segment"]


def openapi_request_body() -> dict[str, Any]:
    """The form's schema for the OpenAPI document (FastAPI cannot infer a form read by hand)."""
    schema = TranscriptionForm.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["properties"]["file"] = {"type": "string", "format": "binary", "description": "the audio itself"}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def parse_form(form: FormData) -> tuple[TranscriptionForm, UploadFile | None]:
    """Validate the text fields; errors become 422 with the faulty field in `param`."""
    data: dict[str, Any] = {}
    upload: UploadFile | None = None
    for key, value in form.multi_items():
        name = key[:-2] if key.endswith("[]") else key
        if name == "file":
            if upload is not None or not isinstance(value, UploadFile):
                raise ApiError(400, "give the audio once, as a file part named `file`", param="file")
            upload = value
            continue
        if name not in TranscriptionForm.model_fields:
            # Fields of newer API versions or of the other dialect (prompt, include...): not ours to refuse.
            continue
        if isinstance(value, UploadFile):
            raise ApiError(422, f"`{name}` must be a text field, not a file", param=name)
        if name in LIST_FIELDS:
            data.setdefault(name, []).append(value)
        elif name in data:
            raise ApiError(422, f"`{name}` was given more than once", param=name)
        else:
            data[name] = value
    try:
        return TranscriptionForm.model_validate(data), upload
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    param = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or None
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "this field is required"
    return ApiError(422, f"{param}: {message}" if param else message, code="invalid_value", param=param)
