"""Telemetry of a running session, made from the agent's events: a span per user turn
(``invoke_agent chit``), under it one per provider request (``chat {model}``) and one per
tool call (``execute_tool {name}``); the token, duration and cost metrics.

Spans are made when their event arrives, with the times the event carries, and handed to
a batch processor: nothing waits for the collector while the answer streams.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from chit import __version__
from chit.agent import AgentEvent, ToolDone, TurnDone, UsageRecorded
from chit.messages import Ended
from chit.telemetry.conventions import (
    COST,
    DURATION,
    DURATION_BUCKETS,
    METRICS,
    SCOPE,
    TOKEN_BUCKETS,
    TOKEN_USAGE,
    common,
    cost_point,
    failed,
    request_attributes,
    request_name,
    token_points,
    tool_attributes,
    tool_name,
    totals_attributes,
    turn_attributes,
    turn_name,
)
from chit.telemetry.pipeline import Pipeline
from chit.telemetry.settings import Handler, Settings, warn


@dataclass
class _Turn:
    """One user turn being watched."""

    session_id: str
    """The session it belongs to: ``gen_ai.conversation.id``."""
    started_ns: int
    """When the front end handed the turn to the agent."""
    span: Span | None = None
    """Its span, made with the first event that needs a parent."""


class Live:
    """Exports one session's turns as they happen; :meth:`close` it once at exit."""

    def __init__(self, wanted: Settings) -> None:
        self.pipeline = Pipeline(wanted)
        meter = self.pipeline.meters.get_meter(SCOPE, __version__)
        unit, about = METRICS[TOKEN_USAGE]
        self._tokens = meter.create_histogram(
            TOKEN_USAGE, unit, about, explicit_bucket_boundaries_advisory=TOKEN_BUCKETS
        )
        unit, about = METRICS[DURATION]
        self._duration = meter.create_histogram(
            DURATION, unit, about, explicit_bucket_boundaries_advisory=DURATION_BUCKETS
        )
        self._cost = meter.create_counter(COST, *METRICS[COST])
        self._broken = False

    def watch(self, handle: Handler, session_id: str, started_ns: int = 0) -> Handler:
        """A handler for one turn's events (begun at ``started_ns``, else now): each is
        seen here, then by ``handle``."""
        turn = _Turn(session_id, started_ns or time.time_ns())

        def both(event: AgentEvent) -> None:
            self._observe(turn, event)
            handle(event)

        return both

    def close(self) -> None:
        """Send what is left, within the deadline."""
        self.pipeline.close()

    def _observe(self, turn: _Turn, event: AgentEvent) -> None:
        if self._broken:
            return
        try:
            if isinstance(event, UsageRecorded):
                self._request(turn, event)
            elif isinstance(event, ToolDone):
                self._tool(turn, event)
            elif isinstance(event, TurnDone):
                self._turn_done(turn, event)
        except Exception as e:  # a bug here must not cost the session
            self._broken = True
            warn(f"stopped after an error ({type(e).__name__}: {e})")

    def _parent(self, turn: _Turn, number: int) -> Span:
        if turn.span is None:
            turn.span = self.pipeline.tracer.start_span(
                turn_name(),
                start_time=turn.started_ns,
                attributes=turn_attributes(turn.session_id, number),
            )
        return turn.span

    def _request(self, turn: _Turn, event: UsageRecorded) -> None:
        record = event.record
        parent = trace.set_span_in_context(self._parent(turn, record.turn))
        span = self.pipeline.tracer.start_span(
            request_name(record),
            parent,
            SpanKind.CLIENT,
            request_attributes(record, turn.session_id),
            start_time=event.started_ns or None,
        )
        why = failed(record)
        if why is not None:
            span.set_status(Status(StatusCode.ERROR, why))
        self._end(span, event.ended_ns)
        for n, attrs in token_points(record):
            self._tokens.record(n, attrs)
        if event.started_ns and event.ended_ns:
            self._duration.record((event.ended_ns - event.started_ns) / 1e9, common(record))
        cost = cost_point(record)
        if cost is not None:
            self._cost.add(*cost)

    def _tool(self, turn: _Turn, event: ToolDone) -> None:
        if turn.span is None:
            return  # a tool call always follows its request's record, which made the turn
        span = self.pipeline.tracer.start_span(
            tool_name(event.call),
            trace.set_span_in_context(turn.span),
            SpanKind.INTERNAL,
            tool_attributes(event.call, event.result, turn.session_id),
            start_time=event.started_ns or None,
        )
        if event.result.is_error:
            span.set_status(Status(StatusCode.ERROR))
        self._end(span, event.ended_ns)

    def _turn_done(self, turn: _Turn, done: TurnDone) -> None:
        span = self._parent(turn, done.turn)
        span.set_attributes(totals_attributes(done.totals, done.ended))
        if done.error is not None:
            span.set_attribute("error.type", done.error.type)
        if done.ended is not Ended.COMPLETE:
            message = done.error.message if done.error is not None else done.ended.value
            span.set_status(Status(StatusCode.ERROR, message))
        self._end(span, 0)
        turn.span = None

    def _end(self, span: Span, ended_ns: int) -> None:
        span.end(ended_ns or None)
        self.pipeline.spans_ended += 1
