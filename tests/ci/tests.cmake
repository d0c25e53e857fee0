# The pull-request comment of examples/ci/example: planned by the real kiln,
# rendered by cmark-gfm, its HTML checked (scripts/render_pr_comment.sh).
add_test(NAME ci_pr_comment
         COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/render_pr_comment.sh --check --kiln $<TARGET_FILE:kiln>)
set_tests_properties(ci_pr_comment PROPERTIES LABELS ci TIMEOUT 120)
