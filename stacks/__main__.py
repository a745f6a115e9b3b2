"""The KoyaLite Pulumi program: the stack's environment of koyalite.yaml, planned, translated and deployed."""

from __future__ import annotations

from pathlib import Path

import pulumi

from components import Platform, Settings, load_plan

settings = Settings.from_config(Path(__file__).resolve().parent)
plan = load_plan(settings)
platform = Platform(plan.project, plan, settings)
for key, value in platform.exports.items():
    pulumi.export(key, value)
