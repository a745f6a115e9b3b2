"""The language server for koyalite.yaml (`koyalite lsp`): analysis (pure) and the pygls server."""
