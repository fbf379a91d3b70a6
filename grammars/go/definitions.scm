(function_declaration name: (identifier) @name) @definition.function
(method_declaration name: (field_identifier) @name) @definition.function
(type_declaration (type_spec name: (type_identifier) @name)) @definition.class
