// Minimal CQL runner behind `cassandra_cql` in infra/lib/cassandra.sh: no cqlsh (Python)
// needed, it uses the DataStax Java driver 3.x that cassandra-all already ships
// (cassandra-driver-core-*-shaded.jar in the resolved lib directory).
//
//   java -cp "LIB/*:CLASSES" Cql HOST PORT STATEMENT...   (no STATEMENT: read stdin)
//
// Each argument is one statement; on stdin, statements end with a ';' at the end of a
// line and lines starting with "--" are comments. Rows print as `a | b | c` under a
// header line; statements that return no rows print nothing. Exit status 1 on the
// first failing statement, with the server's message on stderr.

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import com.datastax.driver.core.Cluster;
import com.datastax.driver.core.ColumnDefinitions;
import com.datastax.driver.core.QueryOptions;
import com.datastax.driver.core.ResultSet;
import com.datastax.driver.core.Row;
import com.datastax.driver.core.Session;
import com.datastax.driver.core.SimpleStatement;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

public final class Cql {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Cql HOST PORT [STATEMENT...]");
            System.exit(2);
        }
        List<String> statements = new ArrayList<>();
        for (int i = 2; i < args.length; i++) statements.add(args[i]);
        if (args.length == 2) statements.addAll(readStdin());

        // The driver logs through slf4j; logback (on the classpath) with no configuration
        // would print DEBUG to stdout. Errors reach us as exceptions anyway.
        ILoggerFactory logs = LoggerFactory.getILoggerFactory();
        if (logs instanceof LoggerContext) {
            ((LoggerContext) logs).getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).setLevel(Level.OFF);
        }

        int status = 0;
        try (Cluster cluster = Cluster.builder()
                .addContactPoint(args[0])
                .withPort(Integer.parseInt(args[1]))
                .withoutMetrics()
                .withoutJMXReporting()
                // no schema / token map download at connect: saves a second per call
                .withQueryOptions(new QueryOptions().setMetadataEnabled(false))
                .build();
             Session session = cluster.connect()) {
            for (String cql : statements) {
                String stmt = cql.trim();
                while (stmt.endsWith(";")) stmt = stmt.substring(0, stmt.length() - 1).trim();
                if (stmt.isEmpty()) continue;
                try {
                    print(session.execute(new SimpleStatement(stmt).setFetchSize(1000)));
                } catch (RuntimeException e) {
                    System.err.println("error in: " + stmt);
                    System.err.println("  " + e.getMessage());
                    status = 1;
                    break;
                }
            }
        } catch (RuntimeException e) {
            System.err.println("cannot connect to " + args[0] + ":" + args[1] + ": " + e.getMessage());
            status = 1;
        }
        System.exit(status);
    }

    private static void print(ResultSet rs) {
        ColumnDefinitions defs = rs.getColumnDefinitions();
        if (defs.size() == 0) return;
        StringBuilder header = new StringBuilder();
        for (int i = 0; i < defs.size(); i++) header.append(i == 0 ? "" : " | ").append(defs.getName(i));
        System.out.println(header);
        for (Row row : rs) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < defs.size(); i++) {
                Object v = row.getObject(i);
                line.append(i == 0 ? "" : " | ").append(v == null ? "null" : v);
            }
            System.out.println(line);
        }
    }

    private static List<String> readStdin() throws Exception {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.trim().startsWith("--")) continue;
            cur.append(line).append('\n');
            if (line.trim().endsWith(";")) {
                out.add(cur.toString());
                cur.setLength(0);
            }
        }
        if (cur.toString().trim().length() > 0) out.add(cur.toString());
        return out;
    }
}
