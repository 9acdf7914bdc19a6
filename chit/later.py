"""A value made in a background thread: started when asked (or when first needed), and
waited for only by whoever needs it before it is made.

The chat uses it to draw its prompt before the heavy half of chit loads: the provider's
wire module and httpx, the agent, the console. :func:`on_first_use` is the same idea for a
package's names: each module loads when one of its names is first asked for.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


class Later(Generic[T]):
    """``make()`` run once, in a thread of its own; its result, or its exception, is handed
    to the thread that asks for it."""

    def __init__(
        self, make: Callable[[], T], name: str, then: Callable[[], None] | None = None
    ) -> None:
        """``then`` is called in the thread once the value is made (or has failed)."""
        self._make = make
        self._then = then
        self._value: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._start = threading.Lock()

    def _run(self) -> None:
        try:
            self._value = self._make()
        except BaseException as e:  # handed to whoever asks, in their own thread
            self._error = e
        finally:
            self._done.set()
        if self._then is not None:
            self._then()

    @property
    def started(self) -> bool:
        """Whether making it has begun."""
        return self._thread.ident is not None

    def start(self) -> None:
        """Begin making it, once; later calls do nothing (and take no lock)."""
        if self.started:
            return
        with self._start:
            if not self.started:
                self._thread.start()

    def get(self) -> T:
        """The value, once made (started now if it was not); raises what making it raised."""
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return cast(T, self._value)

    def ready(self) -> T | None:
        """The value if it is made without error, else ``None``; never waits."""
        return self._value if self._done.is_set() and self._error is None else None


def on_first_use(
    namespace: dict[str, Any], modules: Mapping[str, Iterable[str]]
) -> Callable[[str], Any]:
    """A package's ``__getattr__`` (PEP 562): a name of ``modules`` (module -> its names)
    loads its module when first asked for, and is kept in ``namespace`` from then on."""
    where = {name: module for module, names in modules.items() for name in names}

    def first_use(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        namespace[name] = value
        return value

    return first_use
