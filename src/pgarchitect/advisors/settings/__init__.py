"""The settings advisor: server settings changed only where the evidence asks for it."""

from pgarchitect.advisors.settings.advise import SettingsAdvisor

__all__ = ["SettingsAdvisor"]
