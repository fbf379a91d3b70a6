; child_process.exec("..."), execSync(`...`)
(call_expression
  function: [
    (identifier) @function
    (member_expression property: (property_identifier) @function)
  ]
  arguments: (arguments . [(string) (template_string)] @command)
  (#match? @function "^(exec|execSync)$"))
