CREATE TABLE "schedules" (
	"name" text PRIMARY KEY NOT NULL,
	"cron" text NOT NULL,
	"timezone" text,
	"type" text NOT NULL,
	"params" text,
	"overlap" text NOT NULL,
	"missed" text NOT NULL,
	"backfill" integer,
	"paused" boolean NOT NULL,
	"next_at" bigint NOT NULL,
	"last_job_id" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "schedules_due" ON "schedules" USING btree ("next_at") WHERE NOT "schedules"."paused";