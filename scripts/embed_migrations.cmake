# Embeds schema migration files (NNN_name.sql) as {version, name, sql} entries.
# INPUTS is a "|"-separated list (a ";" would split the command line).
string(REPLACE "|" ";" inputs "${INPUTS}")
file(WRITE ${OUTPUT} "// generated from storage/sql/*.sql\n")
foreach(input ${inputs})
  get_filename_component(name ${input} NAME_WE)
  string(REGEX MATCH "^[0-9]+" version ${name})
  math(EXPR version "${version}")
  file(READ ${input} content)
  file(APPEND ${OUTPUT} "{${version}, \"${name}\", R\"volnode_sql(${content})volnode_sql\"},\n")
endforeach()
