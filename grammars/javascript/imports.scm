(import_statement) @import
(call_expression function: (identifier) @_require (#eq? @_require "require")) @import
(import_statement source: (string (string_fragment) @module))
(export_statement source: (string (string_fragment) @module))
(call_expression
  function: (identifier) @_req (#eq? @_req "require")
  arguments: (arguments . (string (string_fragment) @module)))
(call_expression
  function: (import)
  arguments: (arguments . (string (string_fragment) @module)))
