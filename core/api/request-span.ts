import type { TraceSpan } from '../ports/tracing.js';
import { requestSlot } from './request-slot.js';

const spans = requestSlot<TraceSpan>('konsul.span');

/** Keeps the span of `req` (the API's request middleware does, when tracing). */
export function setRequestSpan(req: Request, span: TraceSpan): void {
  spans.set(req, span);
}

/** The span of `req`, when tracing: handlers add events to it (a blocking query's wait). */
export function requestSpan(req: Request): TraceSpan | undefined {
  return spans.get(req);
}
