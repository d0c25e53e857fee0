# The slurm provider against a real two-node Slurm (slurm_cluster.sh starts
# munge, slurmctld, two slurmd and slurmrestd from scratch on ports
# 17000-17004 and stops them at the end). The unit tests on recorded
# answers are kiln_slurm_tests (this folder's .cpp files).
add_test(NAME slurm/integration
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/slurm_cluster.sh
                 bash ${CMAKE_CURRENT_LIST_DIR}/integration.sh $<TARGET_FILE:kiln> ${CMAKE_SOURCE_DIR})
# One cluster at a time: the ports are fixed. Every kiln run and check in
# integration.sh has its own time limit and slurm_cluster.sh limits the
# whole command to 720 s, so a hang fails with a message and the cluster is
# still torn down before CTest's limit.
set_tests_properties(slurm/integration PROPERTIES LABELS slurm TIMEOUT 900 RESOURCE_LOCK slurm_ports)
