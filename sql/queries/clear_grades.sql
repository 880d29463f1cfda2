-- Grades are replaced whole (then COPY grades FROM STDIN), in one transaction.
DELETE FROM grades
