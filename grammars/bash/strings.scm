(string) @string
(raw_string) @string
