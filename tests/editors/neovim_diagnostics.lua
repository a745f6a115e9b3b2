-- Run by tests/test_lsp_neovim.py in Debian's Neovim, headless, on the buffer of a manifest: start `koyalite lsp`
-- with Neovim's built-in LSP client, wait for the diagnostics it shows, write them out and quit.
--   KOYALITE_LSP: the server command;  KOYALITE_OUT: where to write `line:col:severity:message` lines
local buffer = vim.api.nvim_get_current_buf()
local client = vim.lsp.start_client({
  name = "koyalite",
  cmd = { os.getenv("KOYALITE_LSP"), "lsp" },
  root_dir = vim.fn.getcwd(),
})
vim.lsp.buf_attach_client(buffer, client)
local shown = vim.wait(30000, function()
  return #vim.diagnostic.get(buffer) > 0
end, 50)
local lines = {}
for _, d in ipairs(vim.diagnostic.get(buffer)) do
  table.insert(lines, string.format("%d:%d:%d:%s", d.lnum, d.col, d.severity, d.message))
end
if not shown then
  table.insert(lines, "timeout: no diagnostics in 30 s")
end
vim.fn.writefile(lines, os.getenv("KOYALITE_OUT"))
vim.lsp.stop_client(client)
vim.cmd("qall!")
