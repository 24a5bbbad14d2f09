CREATE TABLE "job_slots" (
	"type" text NOT NULL,
	"key" text NOT NULL,
	"running" integer NOT NULL,
	"window_start" bigint NOT NULL,
	"window_count" integer NOT NULL,
	"head_id" bigint,
	"head_priority" integer,
	"head_run_after" bigint,
	CONSTRAINT "job_slots_type_key_pk" PRIMARY KEY("type","key")
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "concurrency_key" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "traceparent" text;--> statement-breakpoint
CREATE INDEX "job_slots_heads" ON "job_slots" USING btree ("type","head_priority" DESC NULLS FIRST,"head_id") WHERE "job_slots"."head_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "jobs_state_id" ON "jobs" USING btree ("state","id");--> statement-breakpoint
CREATE INDEX "jobs_owner_id" ON "jobs" USING btree ("owner","id");--> statement-breakpoint
CREATE INDEX "jobs_type_id" ON "jobs" USING btree ("type","id");--> statement-breakpoint
CREATE INDEX "jobs_lifecycle_id" ON "jobs" USING btree ("lifecycle","id");--> statement-breakpoint
CREATE INDEX "jobs_lifecycle_state_id" ON "jobs" USING btree ("lifecycle","state","id");--> statement-breakpoint
CREATE INDEX "jobs_claim_type" ON "jobs" USING btree ("type","priority" DESC NULLS FIRST,"id") WHERE "jobs"."claimable" AND "jobs"."concurrency_key" IS NULL;--> statement-breakpoint
CREATE INDEX "jobs_claim_key" ON "jobs" USING btree ("type","concurrency_key","priority" DESC NULLS FIRST,"id") WHERE "jobs"."claimable" AND "jobs"."concurrency_key" IS NOT NULL;