package causeway.neo4j;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Transaction;

/**
 * Neo4j Community, embedded, with Bolt on 127.0.0.1 — the dev/test server for machines
 * without Docker.
 *
 * <pre>
 * java -cp ... causeway.neo4j.Launcher --home DIR [--port 17687] [--schema schema.cypher]
 * </pre>
 *
 * Prints exactly one line on stdout, {@code READY bolt://127.0.0.1:PORT}, once the
 * default database answers queries; everything else (Neo4j's own logs) goes to
 * DIR/logs or stderr, which the caller sends to a log file. SIGTERM shuts the DBMS
 * down cleanly through a shutdown hook, so the store is never left needing recovery.
 * Any failure to start exits with status 1 and a line starting with "FAILED".
 */
public final class Launcher {
    private static final String HOST = "127.0.0.1";

    public static void main(String[] args) {
        String portText = System.getenv().getOrDefault("NEO4J_DEV_PORT", "17687");
        String home = System.getenv("NEO4J_DEV_HOME");
        String schema = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) {
                fail("missing value after " + a, null);
            }
            switch (a) {
                case "--port" -> portText = args[++i];
                case "--home" -> home = args[++i];
                case "--schema" -> schema = args[++i];
                default -> fail("unknown argument " + a, null);
            }
        }
        if (home == null) {
            fail("--home DIR is required", null);
        }
        int port = 0;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            fail("port is not a number: " + portText, null);
        }

        DatabaseManagementService dbms = null;
        try {
            dbms = new DatabaseManagementServiceBuilder(Path.of(home).toAbsolutePath())
                    // Bolt only, on loopback: tests and the local server connect here,
                    // nothing else on the network can.
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                    .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, port))
                    // Plain bolt:// (no TLS): a throwaway local server, and clients need no certs.
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    // Auth off: the server then accepts any hello, with or without basic
                    // credentials, so clients that insist on a user/password still work.
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    // Sized for a 2-core CI machine next to cargo: small page cache and
                    // bounded transaction memory (the JVM heap is capped by neo4j-dev).
                    .setConfig(GraphDatabaseSettings.pagecache_memory, 96L * 1024 * 1024)
                    .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, 256L * 1024 * 1024)
                    .setConfig(GraphDatabaseSettings.memory_transaction_max_size, 128L * 1024 * 1024)
                    // Don't reserve 256 MiB of disk per transaction log file up front.
                    .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                    // The Bolt worker pool otherwise idles 5 s at shutdown, after the
                    // databases are already closed; a test run stops this server often.
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .build();
        } catch (Throwable t) {
            fail("could not start Neo4j on " + HOST + ":" + port + " (port busy?)", t);
        }

        final DatabaseManagementService managed = dbms;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                managed.shutdown();
            } finally {
                stopped.countDown();
            }
        }, "neo4j-dev-shutdown"));

        try {
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(TimeUnit.MINUTES.toMillis(3))) {
                fail("database did not become available", null);
            }
            db.executeTransactionally("RETURN 1");
            if (schema != null) {
                applySchema(db, Path.of(schema));
            }
        } catch (Throwable t) {
            // Stop the DBMS first so its store is left clean, then report.
            try {
                managed.shutdown();
            } catch (Throwable ignored) {
                // already reporting a failure
            }
            fail("could not prepare the database", t);
        }

        System.out.println("READY bolt://" + HOST + ":" + port);
        System.out.flush();

        // Park the main thread; the shutdown hook ends the process on SIGTERM/SIGINT.
        try {
            stopped.await();
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Runs each ';'-separated statement of a Cypher file in its own transaction (schema
     * changes cannot share one with each other or with data writes), then waits for
     * the indexes to come online so the first test sees them.
     */
    static void applySchema(GraphDatabaseService db, Path file) throws Exception {
        for (String statement : statements(Files.readString(file, StandardCharsets.UTF_8))) {
            db.executeTransactionally(statement);
        }
        try (Transaction tx = db.beginTx()) {
            tx.schema().awaitIndexesOnline(2, TimeUnit.MINUTES);
            tx.commit();
        }
    }

    /** Statements of a Cypher file: full-line '//' comments dropped, split on ';'. */
    static List<String> statements(String text) {
        StringBuilder code = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            if (!line.strip().startsWith("//")) {
                code.append(line).append('\n');
            }
        }
        List<String> out = new ArrayList<>();
        for (String part : code.toString().split(";")) {
            if (!part.isBlank()) {
                out.add(part.strip());
            }
        }
        return out;
    }

    private static void fail(String message, Throwable cause) {
        System.err.println("FAILED: " + message);
        if (cause != null) {
            cause.printStackTrace();
        }
        System.err.flush();
        // halt, not exit: a half-started DBMS must not block on shutdown hooks.
        Runtime.getRuntime().halt(1);
    }
}
