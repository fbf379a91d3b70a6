; os.system("..."), os.popen("..."), subprocess.run("...", shell=True) and friends
(call
  function: (attribute
    object: (identifier) @module
    attribute: (identifier) @function)
  arguments: (argument_list . (string) @command)
  (#match? @module "^(os|subprocess|commands)$")
  (#match? @function "^(system|popen|run|call|Popen|check_output|check_call|getoutput|getstatusoutput)$"))
