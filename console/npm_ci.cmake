# Runs `npm ci` in WEB_DIR. A failure (e.g. no network on a fresh checkout) is a
# warning, not a build error: the console works without the 3D model viewer.
execute_process(COMMAND ${NPM} ci --no-audit --no-fund --loglevel=error
                WORKING_DIRECTORY ${WEB_DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(WARNING "npm ci in ${WEB_DIR} failed (${rc}); the 3D model viewer will be unavailable until it succeeds")
endif()
