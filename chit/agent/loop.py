"""The agent loop: one user turn, as many requests as the tools need, every record kept.

The loop knows no screen. It yields events (:mod:`chit.agent.events`); a front end renders
them, answers permission requests, and on Ctrl-C throws ``KeyboardInterrupt`` into the
generator (see :func:`~chit.agent.events.drain`) so the interrupted request is recorded
before the turn ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from chit import signals
from chit.agent.budget import Budget
from chit.agent.compact import outcome, summary_request, too_long
from chit.agent.context import ContextUse, compaction_due, measure
from chit.agent.events import (
    AgentEvent,
    BudgetWarning,
    Compacted,
    Decision,
    PermissionRequest,
    Reason,
    ToolDone,
    TurnDone,
    UsageRecorded,
)
from chit.agent.instructions import Instructions
from chit.agent.tools import ToolContext, ToolFailed, ToolRegistry, cap
from chit.errors import BadInput, BudgetSpent, ChitError
from chit.messages import (
    AssistantTurn,
    Ended,
    Message,
    RequestError,
    Retrying,
    ToolCall,
    ToolResult,
    summary_message,
)
from chit.pricing import Cost, genai_provider, model_facts, price, warm
from chit.providers import Endpoint, Provider, Request
from chit.state import AgentState, RequestRecord
from chit.usage import Usage, count

SYSTEM_PROMPT = (
    "You are chit, a careful coding agent working in a terminal. "
    "Use the tools to read, search and change files in the working folder, "
    "and to run commands. Keep answers short and exact."
)


class Journal(Protocol):
    """Where the loop writes what happens (a session file); ``chit.checkpoint.Session`` is one."""

    def append_message(self, message: Message) -> None: ...
    def append_usage(self, record: RequestRecord) -> None: ...
    def append_checkpoint(self, state: AgentState) -> None: ...
    def append_compact(self, summary: str, replaced: int, focus: str = "") -> None: ...


@dataclass
class Agent:
    """Runs user turns against one provider, keeping every record in ``state`` and ``journal``."""

    provider: Provider
    endpoint: Endpoint
    model: str
    state: AgentState = field(default_factory=AgentState)
    journal: Journal | None = None
    tools: ToolRegistry | None = None
    """Tools to offer; ``None`` offers none (a tool call that comes anyway ends the turn)."""
    permission: Callable[[ToolCall], Decision] | None = None
    """Asked when a PermissionRequest is left unanswered; ``None`` refuses."""
    budget: Budget = field(default_factory=Budget)
    max_output_tokens: int = 8192
    """The most output tokens one request asks for (less when a token budget has less left)."""
    max_requests: int = 25
    system: str = SYSTEM_PROMPT
    cache_ttl: Literal["5m", "1h"] = "5m"
    tool_context: ToolContext | None = None
    always_allowed: set[str] = field(default_factory=set)
    """Tools the user allowed for the rest of the session."""
    instructions: Instructions = field(default_factory=Instructions)
    """The project instructions (already part of ``system``: shown by ``/context``)."""
    auto_compact: int = 85
    """Compact the conversation before a turn when the last request used more than this
    percentage of the context window, and when a provider refuses it as too long (then the
    request goes once more); 0: never."""
    _stopped: bool = field(default=False, init=False, repr=False)
    _unsaved: list[RequestRecord] = field(default_factory=list, init=False, repr=False)
    _journal_error: str | None = field(default=None, init=False, repr=False)

    def run(self, prompt: str) -> Generator[AgentEvent, None, None]:
        """Run one user turn; the last event is :class:`TurnDone`.

        Raises :class:`BudgetSpent` before sending anything when the budget is spent.
        """
        turn = self._begin()
        if self.auto_compact and compaction_due(self.context(), self.auto_compact):
            yield from self._compact(turn, "auto", list(self.state.messages), [])
            if self._stopped or self._unsaved:
                stop = RequestError("interrupted", "interrupted by the user")
                yield from self._finish(turn, None, stop if self._stopped else None)
                return
        start = len(self.state.messages)
        written = self._add(Message(role="user", text=prompt))
        last: AssistantTurn | None = None
        error: RequestError | None = None
        if not written:
            # A request whose record could not be kept would escape the tab: send none.
            error = RequestError("journal", f"{self._journal_error}: no request was sent")
            yield from self._finish(turn, last, error)
            return
        retry = self.auto_compact > 0
        for _ in range(self.max_requests):
            if self.budget.spent(self.state.totals()):
                error = RequestError("budget", f"the budget ({self.budget.describe()}) ran out")
                break
            last = yield from self._request(turn)
            if retry and start and too_long(last):
                # Once: a summary of the turns before this one, this turn's messages kept
                # (the refused request's answer left out), and the request sent again.
                retry = False
                messages = self.state.messages
                done = yield from self._compact(
                    turn, "too_long", messages[:start], messages[start:-1]
                )
                if done.error is None and not (self._stopped or self._unsaved):
                    continue
            if last.ended is not Ended.COMPLETE:
                self._answer_unrun(last.tool_calls, "not run: the response did not complete")
                break
            if self.tools is None:
                self._answer_unrun(last.tool_calls, "not run: tools are disabled")
                break
            if self._stopped or self._unsaved:
                why = "interrupted by the user" if self._stopped else "the session file failed"
                self._answer_unrun(last.tool_calls, f"not run: {why}")
            elif last.tool_calls:
                yield from self._run_tools(last.tool_calls)
            if self._unsaved:
                break  # no new request whose record could not be kept either
            if self._stopped:
                error = RequestError("interrupted", "interrupted by the user")
                break
            if not last.tool_calls:
                break
        else:
            error = RequestError(
                "request_limit", f"the tool loop did not finish in {self.max_requests} requests"
            )
        yield from self._finish(turn, last, error)

    def check_prices(self) -> None:
        """:class:`BadInput` when a cost budget is set and the model has no known price."""
        if self.budget.max_cost is None:
            return  # no price needed: genai-prices stays unloaded until the answer
        if model_facts(self.model, self.endpoint.provider, self.endpoint.base_url) is None:
            raise BadInput(
                f"a cost budget cannot be kept for {self.model}: genai-prices has no price "
                "for it, so its cost is unknown; use --max-tokens instead"
            )

    def compact(self, focus: str = "") -> Generator[AgentEvent, None, None]:
        """Summarise the conversation (keeping ``focus`` in particular) and go on from the
        summary, as a turn of its own: a :class:`Compacted`, then :class:`TurnDone` (whose
        text is the summary). Raises as :meth:`run` does, and :class:`BadInput` when there
        is no conversation."""
        if not self.state.messages:
            raise BadInput("there is no conversation to compact")
        turn = self._begin()
        done = yield from self._compact(turn, "asked", list(self.state.messages), [], focus)
        yield from self._finish(turn, self.state.records[-1].response, done.error)

    def context(self) -> ContextUse:
        """The last request's context against the model's window."""
        return measure(self.state, self.model, self.endpoint)

    def close(self) -> None:
        """Close the provider's connections; call it once the agent is done."""
        self.provider.close()

    def _begin(self) -> int:
        """Check the budget and start a turn; its number."""
        if self.budget.spent(self.state.totals()):
            raise BudgetSpent(f"the session's budget ({self.budget.describe()}) is spent")
        self.check_prices()
        signals.rearm()
        self._stopped = False
        self._unsaved.clear()
        self._journal_error = None
        return self.state.turns + 1

    def _compact(
        self, turn: int, why: Reason, old: list[Message], kept: list[Message], focus: str = ""
    ) -> Generator[AgentEvent, None, Compacted]:
        """Ask for a summary of the ``old`` messages; once it came, the conversation is the
        summary and then ``kept``."""
        response = yield from self._request(turn, summary_request(old, focus))
        done = outcome(response, why, len(old))
        if done.error is None and not self._unsaved:
            self.state.messages[:] = [summary_message(done.summary)]
            self._write(lambda j: j.append_compact(done.summary, done.replaced, focus))
            for message in kept:
                self._add(message)
        yield from self._emit(done)
        return done

    def _request(
        self, turn: int, summary_of: list[Message] | None = None
    ) -> Generator[AgentEvent, None, AssistantTurn]:
        """One request with the conversation. With ``summary_of``: the request for a
        summary, sending those messages; its text is not shown, its answer joins no
        conversation and its record is marked as a compaction."""
        request = Request(
            model=self.model,
            messages=list(self.state.messages if summary_of is None else summary_of),
            system=self.system,
            tools=self.tools.specs() if self.tools is not None else (),
            max_tokens=self._output_cap(),
            cache_key=self.state.session_id or None,
            cache_ttl=self.cache_ttl,
        )
        started = time.time_ns()
        stream = self.provider.stream(request)
        warm()
        response: AssistantTurn | None = None
        try:
            for event in stream:
                if isinstance(event, AssistantTurn):
                    response = event
                elif summary_of is None or isinstance(event, Retrying):
                    yield event  # text, reasoning, tool calls and retry notices as they are
        except KeyboardInterrupt:
            # Ctrl-C reached us at a yield: let the provider record what had arrived.
            rest = [stream.throw(KeyboardInterrupt()), *stream]
            response = next((e for e in rest if isinstance(e, AssistantTurn)), None)
        assert response is not None, "a provider stream must end with an AssistantTurn"
        ended = time.time_ns()
        # The request was (probably) billed: nothing may stop its record being kept, so a
        # signal now waits until it is written, then stops the turn.
        with signals.shielded():
            before = self.state.totals()
            record = RequestRecord(turn, response, self._price(response), summary_of is not None)
            self.state.record(record)
            if not self._write(lambda j: j.append_usage(record)):
                self._unsaved.append(record)
            if summary_of is None:
                self._add(response.message())
        if signals.pending():
            self._stopped = True
        yield from self._emit(UsageRecorded(record, self.state.turn_totals(turn), started, ended))
        after = self.state.totals()
        threshold = self.budget.crossed(before, after)
        if threshold is not None:
            yield from self._emit(BudgetWarning(threshold, self.budget, self.budget.used(after)))
        return response

    def _output_cap(self) -> int:
        """What one request may generate: never more than the token budget has left, so a
        single answer cannot run far past it."""
        left = self.budget.tokens_left(self.state.totals())
        return self.max_output_tokens if left is None else max(min(self.max_output_tokens, left), 1)

    def _emit(self, event: AgentEvent) -> Iterator[AgentEvent]:
        """Yield an event; Ctrl-C thrown in here stops the turn at the next safe point."""
        try:
            yield event
        except KeyboardInterrupt:
            self._stopped = True

    def _price(self, response: AssistantTurn) -> Cost:
        one_hour = count(response.extras.get("cache_write_1h"))
        return self._price_of(response.model_name, response.usage, one_hour)

    def _price_of(self, model: str, usage: Usage, cache_write_1h: int | None = None) -> Cost:
        """What ``usage`` cost on ``model`` at this endpoint."""
        provider_id, api_url = genai_provider(self.endpoint.provider, self.endpoint.base_url)
        return price(
            usage,
            model,
            provider_id=provider_id,
            provider_api_url=api_url,
            cache_write_1h=cache_write_1h,
        )

    def _run_tools(self, calls: tuple[ToolCall, ...]) -> Iterator[AgentEvent]:
        """Run each call, and send every result back (Ctrl-C stops the rest)."""
        results: list[ToolResult] = []
        for call in calls:
            if self._stopped:
                results.append(ToolResult(call.id, call.name, "not run: interrupted", True))
                continue
            started = time.time_ns()
            try:
                result = yield from self._run_tool(call)
            except KeyboardInterrupt:
                self._stopped = True
                result = ToolResult(call.id, call.name, "interrupted by the user", True)
            results.append(result)
            yield from self._emit(ToolDone(call, result, started, time.time_ns()))
        self._add(Message(role="tool", tool_results=tuple(results)))

    def _run_tool(self, call: ToolCall) -> Generator[AgentEvent, None, ToolResult]:
        assert self.tools is not None
        tool = self.tools.get(call.name)
        if tool is None:
            return ToolResult(call.id, call.name, f"no tool named {call.name!r}", True)
        try:
            args = call.parsed_arguments()
        except ValueError:
            return ToolResult(call.id, call.name, "the arguments are not a JSON object", True)
        ctx = self.tool_context or ToolContext(root=Path.cwd())
        if tool.needs_permission(args, ctx) and tool.name not in self.always_allowed:
            ask = PermissionRequest(call)
            yield ask
            decision = ask.decision or (self.permission(call) if self.permission else "no")
            if decision == "always":
                self.always_allowed.add(tool.name)
            elif decision != "yes":
                return ToolResult(call.id, call.name, "the user refused permission", True)
        try:
            return ToolResult(call.id, call.name, cap(tool.run(args, ctx)))
        except ToolFailed as e:
            return ToolResult(call.id, call.name, str(e), True)
        except Exception as e:  # a tool's bug must not end the session
            return ToolResult(call.id, call.name, f"{type(e).__name__}: {e}", True)

    def _answer_unrun(self, calls: tuple[ToolCall, ...], why: str) -> None:
        # Every tool call needs a result, or the next request is invalid for the provider.
        if calls:
            results = tuple(ToolResult(c.id, c.name, why, True) for c in calls)
            self._add(Message(role="tool", tool_results=results))

    def _add(self, message: Message) -> bool:
        """Add a message to the conversation; False when the journal failed to keep it."""
        self.state.messages.append(message)
        return self._write(lambda j: j.append_message(message))

    def _write(self, append: Callable[[Journal], None]) -> bool:
        """Append to the journal; False when it failed (the first failure is kept)."""
        if self.journal is None:
            return True
        try:
            append(self.journal)
        except ChitError as e:  # a full disk, a folder gone: the turn still ends in order
            self._journal_error = self._journal_error or str(e)
            return False
        return True

    def _finish(
        self, turn: int, last: AssistantTurn | None, error: RequestError | None
    ) -> Iterator[AgentEvent]:
        self.state.turns = turn
        with signals.shielded():
            self._write(lambda j: j.append_checkpoint(self.state))
        if self._unsaved and error is None:
            n = len(self._unsaved)
            error = RequestError(
                "journal",
                f"{self._journal_error}: {n} request(s) of this turn are missing from the "
                "session file (their usage is in this output only)",
            )
        ended = last.ended if last is not None else Ended.ERROR
        if error is not None and ended is Ended.COMPLETE:
            ended = Ended.INTERRUPTED if error.type == "interrupted" else Ended.ERROR
        yield TurnDone(
            turn=turn,
            text=last.text if last is not None else "",
            ended=ended,
            stop_reason=last.stop_reason if last is not None else None,
            error=error or (last.error if last is not None else None),
            model=last.model_name if last is not None else None,
            totals=self.state.turn_totals(turn),
            truncated=last is not None and last.truncated,
            unsaved=len(self._unsaved),
        )
