"""The help screen: every key in force."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """[b]agentwatch[/b]: htop for AI coding agents

[b]Sessions[/b]
  ↑ ↓ PgUp PgDn  move              enter   session detail
  space / →      show sub-agents   ←       hide them
  /              filter            esc     clear the filter
  o / O          next sort / reverse the order (or click a column header)
  g              group by project  h       hide idle sessions
  a              show / hide the alert panel
[b]Actions[/b]
  k kill   s suspend/resume
  e export the selected session as Markdown   E export every session in view
  (into export_dir from config.toml, else the current directory; never overwrites)
[b]Everywhere[/b]
  ctrl+p  command palette (themes)   ?  this help   q  quit
  L       leaderboard: tokens next to what they produced
  d       the demo (offered when no agent logs are found)

Token counts are exact, read from the agents' own logs and
deduplicated. `~$` marks an estimated cost; `unpriced` is a
model without a price (never shown as $0).
"""


class HelpScreen(ModalScreen[None]):
    """Keys and what the numbers mean."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP)
