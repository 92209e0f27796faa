"""A file a journey keeps: what ``self.state["document"]`` holds once an uploaded file was assigned to it.

:class:`KeptFile` is a :class:`django.core.files.File` whose content sits in
one of Django's ``STORAGES`` under a name no user chose; the state (and the
record) keep only a small reference: the storage, that name, the original file
name, the size and the content type the browser declared. Reading it opens the
stored copy; assigning it to a model's ``FileField`` and saving the model
copies it into that field's storage, as Django does with any ``File``.
"""

from __future__ import annotations

import os
import unicodedata
from typing import IO, Any

from django import forms
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext

__all__ = ["KeptFile", "KeptFileInput", "display_name", "refuse_oversized", "show_kept_files"]

#: The longest original file name kept (for display).
MAX_NAME = 200


def display_name(name: str | None) -> str:
    """*name* (as a browser sent it) made safe to show: no folders, no control characters, not too long."""
    base = os.path.basename(str(name or "").replace("\\", "/"))
    clean = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return clean[:MAX_NAME] or "file"


class KeptFile(File):  # type: ignore[type-arg]
    """A file kept for a task: its content in a storage, opened when first read."""

    def __init__(self, storage: str, path: str, name: str, size: int, content_type: str = "") -> None:
        super().__init__(None, display_name(name))
        #: The key of ``STORAGES`` the content is in, and its name there (never the user's file name).
        self.storage_name = storage
        self.path = path
        self._size = int(size)
        #: As the browser declared it: data, not a fact about the content.
        self.content_type = str(content_type or "")[:100]
        self._opened: IO[Any] | None = None

    @property
    def storage(self) -> Storage:
        return storages[self.storage_name]

    # File reads self.file; it is opened from the storage on first use.
    @property
    def file(self) -> IO[Any] | None:
        if self._opened is None:
            self._opened = self.storage.open(self.path, "rb")
        return self._opened

    @file.setter
    def file(self, value: IO[Any] | None) -> None:
        self._opened = value

    @property
    def size(self) -> int:
        return self._size

    @property
    def closed(self) -> bool:
        return self._opened is None or self._opened.closed

    def open(self, mode: str | None = "rb", *args: Any, **kwargs: Any) -> KeptFile:
        if self._opened is not None and not self._opened.closed:
            self._opened.seek(0)
        else:
            self._opened = self.storage.open(self.path, mode or "rb")
        return self

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    def reference(self) -> list[Any]:
        """What the record keeps of it."""
        return [self.storage_name, self.path, self.name, self._size, self.content_type]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeptFile):
            return (self.storage_name, self.path) == (other.storage_name, other.path)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.storage_name, self.path))

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<KeptFile {self.name!r} ({self._size} bytes)>"

    def __deepcopy__(self, memo: dict[int, Any]) -> KeptFile:
        return KeptFile(*self.reference())


class KeptFileInput(forms.ClearableFileInput):
    """A file input that shows the file kept from an earlier answer (name and size): choosing
    another replaces it, choosing none keeps it."""

    template_name = "flowmachine/widgets/kept_file.html"

    def is_initial(self, value: Any) -> bool:
        return isinstance(value, KeptFile)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(name, value, attrs)
        if isinstance(value, KeptFile):
            context["widget"]["kept_size"] = filesizeformat(value.size)
        return context


def show_kept_files(form: Any) -> None:
    """Show the file kept for each file field of *form* whose initial value is one."""
    for name, field in getattr(form, "fields", {}).items():
        if not isinstance(field, forms.FileField) or type(field.widget) not in (
            forms.FileInput,
            forms.ClearableFileInput,
        ):
            continue
        if isinstance(form.get_initial_for_field(field, name), KeptFile):
            widget = KeptFileInput(attrs=field.widget.attrs)
            widget.is_required = field.required
            field.widget = widget


def refuse_oversized(form: Any, request: HttpRequest, limit: int) -> bool:
    """Add an error to each file field of *form* sent a file larger than *limit* bytes; True if none was."""
    ok = True
    for name, field in getattr(form, "fields", {}).items():
        if not isinstance(field, forms.FileField):
            continue
        for upload in request.FILES.getlist(form.add_prefix(name)):
            if upload.size is not None and upload.size > limit:
                message = gettext("This file is too large (%(size)s): files up to %(limit)s are accepted.") % {
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(limit),
                }
                form.add_error(name, message)
                ok = False
    return ok
