(import_statement) @import
(import_from_statement) @import
(import_statement name: (dotted_name) @module)
(import_statement name: (aliased_import name: (dotted_name) @module))
(import_from_statement module_name: (dotted_name) @module)
;; `__import__("x")`: one plain string (not an f-, t- or byte string) as the first argument.
(call
  function: (identifier) @_import (#eq? @_import "__import__")
  arguments: (argument_list
    . (string . (string_start) @_quote . (string_content) @module . (string_end)))
  (#not-match? @_quote "[fFtTbB]"))
