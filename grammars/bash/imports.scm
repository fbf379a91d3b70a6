(command name: (command_name) @_cmd (#match? @_cmd "^(source|\\.)$")) @import
