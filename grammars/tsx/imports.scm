(import_statement) @import
(call_expression function: (identifier) @_require (#eq? @_require "require")) @import
