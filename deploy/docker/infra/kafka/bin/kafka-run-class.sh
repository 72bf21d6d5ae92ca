#!/bin/bash
# kafka-run-class.sh CLASS [ARGS]: a Kafka tool on the image's jars (small heap).
exec java ${KAFKA_TOOL_OPTS:--Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1} \
  -Dlog4j.configuration=file:/opt/kafka/config/tools-log4j.properties -cp "/opt/kafka/libs/*" "$@"
