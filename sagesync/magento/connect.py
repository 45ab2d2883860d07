"""Magento connection settings taken from a recipe.

Here, not in a step, so every step that talks to Magento (export-magento, push-magento)
builds its authentication the same way without importing another step.
"""

from __future__ import annotations

from requests.auth import AuthBase

from sagesync.recipe import Recipe


def magento_auth(recipe: Recipe, base_url: str) -> AuthBase:
    """The recipe's Magento authentication (secrets come from the environment or .env)."""
    from sagesync.magento.auth import make_auth

    settings = {**recipe.magento.auth_settings, "token": recipe.magento.token or "",
                "base_url": base_url}
    return make_auth(recipe.magento.auth, settings)
