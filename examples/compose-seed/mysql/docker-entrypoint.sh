#!/bin/bash
# The official mysql image's first-start initialisation (docker-library/mysql
# docker-entrypoint.sh), reduced to its environment variables: MYSQL_ROOT_PASSWORD,
# MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER and
# MYSQL_PASSWORD (MARIADB_* spellings too). An empty /var/lib/mysql is initialised by a
# server without networking, which is stopped before the real one starts.
set -eo pipefail

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) [$1] [Entrypoint]: $2" >&2; }

# A value as an SQL string literal's contents (the official image's escaping).
sql_escape() {
	local newline=$'\n'
	local escaped=${1//\\/\\\\}
	escaped="${escaped//$newline/\\n}"
	echo "${escaped//\'/\\\'}"
}

if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
	: "${MYSQL_ROOT_PASSWORD:=${MARIADB_ROOT_PASSWORD:-}}"
	: "${MYSQL_ALLOW_EMPTY_PASSWORD:=${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}}"
	: "${MYSQL_RANDOM_ROOT_PASSWORD:=${MARIADB_RANDOM_ROOT_PASSWORD:-}}"
	: "${MYSQL_DATABASE:=${MARIADB_DATABASE:-}}"
	: "${MYSQL_USER:=${MARIADB_USER:-}}"
	: "${MYSQL_PASSWORD:=${MARIADB_PASSWORD:-}}"
	if [ ! -d /var/lib/mysql/mysql ]; then
		if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
			log ERROR "Database is uninitialized and password option is not specified"
			echo >&2 "    You need to specify one of the following as an environment variable:"
			echo >&2 "    - MYSQL_ROOT_PASSWORD"
			echo >&2 "    - MYSQL_ALLOW_EMPTY_PASSWORD"
			echo >&2 "    - MYSQL_RANDOM_ROOT_PASSWORD"
			exit 1
		fi
		log Note "Initializing database files"
		chown mysql:mysql /var/lib/mysql
		mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
			--auth-root-authentication-method=normal --skip-name-resolve >/dev/null
		log Note "Starting temporary server"
		socket=/run/mysqld/init.sock
		"$@" --skip-networking --socket="$socket" &
		pid=$!
		for _ in $(seq 60); do
			if mariadb --protocol=socket --socket="$socket" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
				break
			fi
			sleep 0.5
		done
		if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
			MYSQL_ROOT_PASSWORD=$(head -c 18 /dev/urandom | base64)
			log Note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
		fi
		root=$(sql_escape "$MYSQL_ROOT_PASSWORD")
		{
			echo "SET @@SESSION.SQL_LOG_BIN=0;"
			echo "DELETE FROM mysql.user WHERE user NOT IN ('mysql.sys', 'mariadb.sys', 'root') OR host NOT IN ('localhost');"
			echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD('$root');"
			echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root';"
			echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
			if [ -n "$MYSQL_DATABASE" ]; then
				echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
			fi
			if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
				echo "CREATE USER '$(sql_escape "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sql_escape "$MYSQL_PASSWORD")';"
				if [ -n "$MYSQL_DATABASE" ]; then
					echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$(sql_escape "$MYSQL_USER")'@'%';"
				fi
			fi
			echo "FLUSH PRIVILEGES;"
		} | mariadb --protocol=socket --socket="$socket" -uroot
		kill "$pid"
		wait "$pid" || true
		log Note "MySQL init process done. Ready for start up."
	fi
fi

exec "$@"
