-- ARGV: prefix, id (delete_one.lua is prepended)
return delete_one(ARGV[2])
