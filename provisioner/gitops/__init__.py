"""GitOps helpers: diffs for review, plan summaries and reference docs. Pure: no printing, no Pulumi."""
