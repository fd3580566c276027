# tests/chaos/cluster.cmake - the three-broker scenarios (tests/chaos/cluster.py), label chaos, and the fault
# proxy's own test. The cluster (scripts/kafka, STOCKD_KAFKA_NODES=3, base port 19600, its own var in
# /tmp/stockd-chaos-cluster-19600) is a ctest fixture: started before the first scenario, stopped after the last. Included by the
# top-level CMakeLists.txt.
set(STOCKD_CHAOS_CLUSTER_ENVIRONMENT
    "STOCKD_BINARY=$<TARGET_FILE:stockd>;STOCKCTL_BINARY=$<TARGET_FILE:stockctl>;STOCKD_PARTITION_LEADERS=$<TARGET_FILE:partition_leaders>;STOCKD_TOPICS_DELETE=$<TARGET_FILE:bench_topics_delete>")
set(STOCKD_CHAOS_CLUSTER_RUN ${CMAKE_CURRENT_LIST_DIR}/run)

add_test(NAME test_faultproxy COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/test_faultproxy.py)
set_tests_properties(test_faultproxy PROPERTIES TIMEOUT 60 LABELS unit)

add_test(NAME chaos_cluster_start COMMAND ${STOCKD_CHAOS_CLUSTER_RUN} cluster.py start-cluster)
add_test(NAME chaos_cluster_stop COMMAND ${STOCKD_CHAOS_CLUSTER_RUN} cluster.py stop-cluster)
set_tests_properties(chaos_cluster_start PROPERTIES FIXTURES_SETUP chaos_cluster)
set_tests_properties(chaos_cluster_stop PROPERTIES FIXTURES_CLEANUP chaos_cluster)
foreach(scenario leader-kill cut-instance brokers-down-at-start)
  string(REPLACE "-" "_" scenario_name ${scenario})
  add_test(NAME chaos_cluster_${scenario_name} COMMAND ${STOCKD_CHAOS_CLUSTER_RUN} cluster.py ${scenario})
  set_tests_properties(chaos_cluster_${scenario_name} PROPERTIES FIXTURES_REQUIRED chaos_cluster TIMEOUT 900)
endforeach()
set_tests_properties(chaos_cluster_start chaos_cluster_stop chaos_cluster_leader_kill chaos_cluster_cut_instance
                     chaos_cluster_brokers_down_at_start PROPERTIES
  LABELS chaos RUN_SERIAL TRUE ENVIRONMENT "${STOCKD_CHAOS_CLUSTER_ENVIRONMENT}")
set_tests_properties(chaos_cluster_start chaos_cluster_stop PROPERTIES TIMEOUT 300)

# deploy/compose.yaml linted offline (PyYAML from the venv of scripts/pytools).
add_test(NAME deploy_check
         COMMAND bash -c "\"$(\"$0\"/scripts/pytools)/bin/python\" \"$0\"/deploy/check.py \"$1\""
                 ${CMAKE_SOURCE_DIR} $<TARGET_FILE:stockd>)
set_tests_properties(deploy_check PROPERTIES TIMEOUT 300 LABELS unit)
