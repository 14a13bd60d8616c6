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
  ↑ ↓ PgUp PgDn   move            space / →   expand sub-agents     ←   collapse
  enter           session detail  /           filter                esc clear filter
  o / O           sort by next column / reverse                     g   group by project
  h               hide idle sessions
[b]Actions[/b]
  k kill   s suspend/resume   e export  (arrive with process control and exports)
[b]Everywhere[/b]
  ctrl+p  command palette (themes, go to session)    ?  this help    q  quit

Numbers: exact token counts from the agents' logs, deduplicated. `~$` marks an estimated
cost; `unpriced` a model without a price (never shown as $0).
"""


class HelpScreen(ModalScreen[None]):
    """Keys and what the numbers mean."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP)
