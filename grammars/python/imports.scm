(import_statement) @import
(import_from_statement) @import
(import_statement name: (dotted_name) @module)
(import_statement name: (aliased_import name: (dotted_name) @module))
(import_from_statement module_name: (dotted_name) @module)
(call
  function: (identifier) @_import (#eq? @_import "__import__")
  arguments: (argument_list . (string (string_content) @module)))
